"""Fixtures: tests/api's organisation (root key, desks in a signed manifest, desk tokens);
and tests/workstation's helpers (ws_helpers: inbound bundles as the server writes them) on
the import path, as pytest puts them there when it collects tests/workstation."""

import sys
from pathlib import Path

from api.conftest import org  # noqa: F401 - the session's organisation

_WORKSTATION_TESTS = str(Path(__file__).resolve().parents[1] / "workstation")
if _WORKSTATION_TESTS not in sys.path:
    sys.path.append(_WORKSTATION_TESTS)
