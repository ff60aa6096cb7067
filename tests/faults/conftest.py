"""Fixtures: tests/api's organisation (root key, desks in a signed manifest, desk tokens)."""

from api.conftest import org  # noqa: F401 - the session's organisation
