"""Everything a request needs, built once at startup and kept on `app.state.ctx`."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fastapi import Request

from crypto.encoding import b64decode
from crypto.errors import ProtocolError
from crypto.manifest import Manifest, verify_manifest

from .ids import utc_today
from .security.desk_auth import DeskAuthenticator
from .security.pow import ProofOfWork
from .settings import Settings
from .storage.blobs import BlobStore
from .storage.db import Database


@dataclass
class AppContext:
    settings: Settings
    db: Database
    blobs: BlobStore
    manifest: Manifest
    manifest_bytes: bytes
    deployment_bytes: bytes
    desk_auth: DeskAuthenticator
    pow: ProofOfWork
    today: Callable[[], date] = utc_today


def get_ctx(request: Request) -> AppContext:
    return request.app.state.ctx


def load_deployment(path: Path) -> tuple[bytes, bytes]:
    """The deployment file's bytes and the organisation root public key it pins."""
    try:
        data = Path(path).read_bytes()
        parsed = json.loads(data)
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"cannot read deployment file {path}") from exc
    if not isinstance(parsed, dict) or parsed.get("v") != 1 or not isinstance(parsed.get("org"), str):
        raise RuntimeError(f'deployment file {path} must be {{"v": 1, "org": str, "root_pk": b64}}')
    try:
        root_pk = b64decode(parsed.get("root_pk"), field="root_pk", length=32)
    except ProtocolError as exc:
        raise RuntimeError(f"deployment file {path}: {exc.message}") from exc
    return data, root_pk


def load_manifest(path: Path, root_pk: bytes) -> tuple[bytes, Manifest]:
    """The manifest file, verified against the pinned root key; refuses to start otherwise."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RuntimeError(f"cannot read manifest {path}") from exc
    try:
        return data, verify_manifest(data, root_pk)
    except ProtocolError as exc:
        raise RuntimeError(f"manifest {path} is not valid for this deployment: {exc.code}: {exc.message}") from exc
