"""`quietline client digests` and `quietline client verify URL` (server/client_release.py)."""

import json
import sys
from pathlib import Path

import click
import httpx

from .client_release import release_of, verify_served
from .settings import REPO_ROOT

DEFAULT_CLIENT_DIR = REPO_ROOT / "client_web"


@click.group()
def client() -> None:
    """Publish and check the digests of the browser client."""


def _release(client_dir: Path):
    if not client_dir.is_dir():
        raise click.ClickException(f"client folder {client_dir} does not exist")
    release = release_of(client_dir)
    if not release.files:
        raise click.ClickException(f"client folder {client_dir} holds no file to serve")
    return release


@client.command()
@click.option("--dir", "client_dir", type=click.Path(path_type=Path), default=DEFAULT_CLIENT_DIR, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="print the digests as JSON")
def digests(client_dir: Path, as_json: bool) -> None:
    """Print the SHA-256 of every file the server serves, and the one client digest to publish."""
    release = _release(client_dir)
    if as_json:
        files = [{"path": f.path, "sha256": f.sha256} for f in release.files]
        click.echo(json.dumps({"digest": release.digest, "files": files}, indent=2))
        return
    for line in release.lines():
        click.echo(line)
    click.echo(release.digest)


@client.command()
@click.argument("url")
@click.option("--dir", "client_dir", type=click.Path(path_type=Path), default=DEFAULT_CLIENT_DIR, show_default=True)
@click.option("--timeout", default=30.0, show_default=True, help="seconds per file")
def verify(url: str, client_dir: Path, timeout: float) -> None:
    """Fetch every client file from the server at URL and compare it with the local digests.

    Exits 1 and names each file that differs, is missing or cannot be fetched."""
    release = _release(client_dir)
    base = url.rstrip("/")
    with httpx.Client(timeout=timeout, follow_redirects=False, headers={"Accept-Encoding": "identity"}) as http:

        def fetch(path: str) -> tuple[int, bytes]:
            try:
                response = http.get(base + path)
            except httpx.HTTPError as exc:
                raise OSError(str(exc)) from None
            return response.status_code, response.content

        mismatches = verify_served(release, fetch)
    if mismatches:
        for m in mismatches:
            click.echo(f"{m.path}: {m.reason}", err=True)
        click.echo(f"error: {len(mismatches)} of {len(release.files)} client files do not match {release.digest}", err=True)
        sys.exit(1)
    click.echo(f"all {len(release.files)} client files match {release.digest}")
