"""The browser client, served as static files from settings.client_dir."""

import mimetypes
from pathlib import PurePosixPath

from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

# Types the client needs exactly (X-Content-Type-Options: nosniff is strict about them).
for _type, _ext in (
    ("text/javascript", ".js"),
    ("text/javascript", ".mjs"),
    ("application/wasm", ".wasm"),
    ("application/json", ".json"),
    ("application/manifest+json", ".webmanifest"),
    ("text/css", ".css"),
    ("image/svg+xml", ".svg"),
):
    mimetypes.add_type(_type, _ext)

# Never served even if present in the client folder: build inputs and dotfiles.
HIDDEN = {"node_modules", "package.json", "package-lock.json", "scripts", "tests", "test"}


def is_served(parts: tuple[str, ...]) -> bool:
    """A path's parts name a file the client may serve: no dotfile, no build input."""
    return not any(part.startswith(".") or part in HIDDEN for part in parts)


class ClientFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        if not is_served(PurePosixPath(path.replace("\\", "/")).parts):
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def client_app(directory) -> ASGIApp:
    """The static client, gzip-compressed for browsers that accept it (a visitor on a slow
    link gets the first page in about a third of the bytes; docs/BENCHMARKS.md). Only these
    public, identical-for-everyone files are compressed: the API is routed before this mount
    and never passes through here, so no response that carries secret-derived data is
    compressed (no BREACH-style length oracle)."""
    return GZipMiddleware(ClientFiles(directory=directory, html=True), minimum_size=500, compresslevel=6)
