"""Desk transport authentication: `Authorization: Bearer <desk_id>.<token>`.

The server keeps only an Argon2id hash of each desk's token (desk-tokens.json:
{"desks": {"desk-1": "$argon2id$..."}}). The token moves bundles; it opens nothing.
`hash_token` and `new_token` are also used by `quietline keys dev`.
"""

import functools
import hashlib
import hmac
import json
import re
import secrets
import threading
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crypto.manifest import DESK_ID, Manifest

from ..errors import ApiError

_hasher = PasswordHasher()
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
# Argon2 verification costs ~64 MiB of memory each: bound how many run at once, so that a
# flood of wrong tokens cannot exhaust memory.
_VERIFY_SLOTS = threading.BoundedSemaphore(2)
# Tokens verified once are remembered (for this process) as a keyed digest of the desk, the
# token and the stored hash, so a syncing desk does not pay Argon2 on every request, and a
# rotated token file invalidates what was remembered. The key never leaves memory.
_CACHE_KEY = secrets.token_bytes(32)
_VERIFIED: set[bytes] = set()
_LOCK = threading.Lock()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the desk is unknown, so that costs what a wrong token costs."""
    return _hasher.hash(secrets.token_urlsafe(32))


def new_token() -> str:
    """A fresh desk transport token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The Argon2id hash to store in desk-tokens.json."""
    return _hasher.hash(token)


def _unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "a valid desk token is required")


class DeskAuthenticator:
    def __init__(self, hashes: dict[str, str], manifest: Manifest):
        manifest_desks = {desk.id for desk in manifest.desks}
        # A desk must be both in the token file and in the signed manifest.
        self._hashes = {desk: h for desk, h in hashes.items() if desk in manifest_desks}

    @classmethod
    def from_file(cls, path: Path, manifest: Manifest) -> "DeskAuthenticator":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"cannot read desk tokens file {path}") from exc
        desks = data.get("desks") if isinstance(data, dict) else None
        if not isinstance(desks, dict) or not all(
            isinstance(k, str) and DESK_ID.match(k) and isinstance(v, str) and v.startswith("$argon2id$")
            for k, v in desks.items()
        ):
            raise RuntimeError(f'desk tokens file {path} must be {{"desks": {{desk_id: "$argon2id$..."}}}}')
        return cls(desks, manifest)

    @staticmethod
    def _digest(desk_id: str, token: str, stored: str) -> bytes:
        return hmac.new(_CACHE_KEY, f"{desk_id}\n{token}\n{stored}".encode(), hashlib.blake2b).digest()

    def authenticate(self, authorization: str | None) -> str:
        """Return the desk id, or raise 401 `unauthorized`."""
        if not authorization:
            raise _unauthorized()
        scheme, _, credentials = authorization.partition(" ")
        desk_id, dot, token = credentials.strip().partition(".")
        if scheme.lower() != "bearer" or not dot or not DESK_ID.match(desk_id) or not _TOKEN.match(token):
            raise _unauthorized()
        stored = self._hashes.get(desk_id)
        digest = self._digest(desk_id, token, stored or "")
        if stored is not None:
            with _LOCK:
                if digest in _VERIFIED:
                    return desk_id
        with _VERIFY_SLOTS:
            try:
                # An unknown desk costs the same as a wrong token.
                _hasher.verify(stored or _dummy_hash(), token)
            except (VerificationError, InvalidHashError):
                raise _unauthorized() from None
        if stored is None:
            raise _unauthorized()
        with _LOCK:
            _VERIFIED.add(digest)
        return desk_id


# Declares the scheme in the OpenAPI description (so clients and Schemathesis know the desk
# routes take a bearer token); it refuses nothing itself: `authenticate` does, with our 401 body.
_BEARER = HTTPBearer(auto_error=False, scheme_name="deskToken", description="<desk_id>.<token>")


def require_desk(request: Request, _declared: HTTPAuthorizationCredentials | None = Security(_BEARER)) -> str:
    """FastAPI dependency: the authenticated desk id. (Sync: Argon2 runs in the threadpool.)"""
    authenticator: DeskAuthenticator = request.app.state.ctx.desk_auth
    return authenticator.authenticate(request.headers.get("authorization"))
