"""Published digests of the browser client, and a check that a live server serves exactly
those bytes.

A server that serves malicious JavaScript defeats end-to-end encryption for whoever loads
it; this is the limit of every web client. Publishing the digest of the client (through
the organisation's own channels, next to the root key fingerprint) lets anyone, from any
network, fetch what a deployment serves and compare: `quietline client digests` prints
the digests of a client folder, `quietline client verify URL` fetches every file from a
server and names each one that differs. It cannot catch a server that targets one visitor,
which is why SECURITY.md also recommends running the client from a verified saved copy.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .static import is_served

DIGEST_PREFIX = "quietline-client-v1:"


@dataclass(frozen=True)
class ClientFile:
    path: str  # URL path, e.g. "/js/app.js"
    sha256: str


@dataclass(frozen=True)
class ClientRelease:
    files: tuple[ClientFile, ...]

    @property
    def digest(self) -> str:
        """One SHA-256 over the sorted `sha256  path` lines: the figure to publish."""
        listing = "".join(f"{f.sha256}  {f.path}\n" for f in self.files)
        return DIGEST_PREFIX + hashlib.sha256(listing.encode()).hexdigest()

    def lines(self) -> list[str]:
        return [f"{f.sha256}  {f.path}" for f in self.files]


def release_of(client_dir: Path) -> ClientRelease:
    files = []
    for file in sorted(p for p in client_dir.rglob("*") if p.is_file()):
        relative = file.relative_to(client_dir)
        if is_served(relative.parts):
            files.append(ClientFile("/" + relative.as_posix(), hashlib.sha256(file.read_bytes()).hexdigest()))
    return ClientRelease(tuple(sorted(files, key=lambda f: f.path)))


@dataclass(frozen=True)
class Mismatch:
    path: str
    reason: str  # "differs" or "HTTP <status>" or "unreachable"


def verify_served(release: ClientRelease, fetch: Callable[[str], tuple[int, bytes]]) -> list[Mismatch]:
    """Fetch each published file through `fetch(path) -> (status, body)` and compare."""
    mismatches = []
    for file in release.files:
        try:
            status, body = fetch(file.path)
        except OSError:
            mismatches.append(Mismatch(file.path, "unreachable"))
            continue
        if status != 200:
            mismatches.append(Mismatch(file.path, f"HTTP {status}"))
        elif hashlib.sha256(body).hexdigest() != file.sha256:
            mismatches.append(Mismatch(file.path, "differs"))
    return mismatches
