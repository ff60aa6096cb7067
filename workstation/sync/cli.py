"""`quietline sync`: the online machine's only job, moving bundles to and from the server.

It holds the desk's transport token (which moves bundles and opens nothing) and no key.
Config: --config or $QUIETLINE_SYNC_CONFIG, a JSON file {"server", "desk", "token"}.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import click
import httpx

from crypto.bundle import INBOUND, MAGIC, OUTBOUND, PREFIX, read_bundle
from crypto.manifest import DESK_ID

from ..errors import CommandGroup, WorkstationError, one_line
from ..files import atomic_writer
from ..keys_cli import REPO_ROOT

CONFIG_ENV = "QUIETLINE_SYNC_CONFIG"
DEFAULT_CONFIG = "var/dev/sync.json"  # under the repository root, like the server's defaults
INBOUND_PATH = "/api/v1/desk/inbound"
OUTBOUND_PATH = "/api/v1/desk/outbound"
RETRIES = 3  # connection attempts, by httpx's transport
TIMEOUT = httpx.Timeout(60.0, connect=15.0)


@dataclass(frozen=True)
class SyncConfig:
    server: str
    desk: str
    token: str

    @classmethod
    def load(cls, path: Path) -> "SyncConfig":
        try:
            data = json.loads(Path(path).read_bytes())
        except OSError as exc:
            raise WorkstationError(f"cannot read sync config {path}: {exc.strerror}") from exc
        except ValueError as exc:
            raise WorkstationError(f"sync config {path} is not JSON") from exc
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data[k] for k in ("server", "desk", "token")):
            raise WorkstationError(f'sync config {path} must be {{"server": url, "desk": id, "token": str}}')
        server = data["server"].rstrip("/")
        if not server.startswith(("http://", "https://")):
            raise WorkstationError(f"sync config {path}: server must be an http(s) URL")
        if not DESK_ID.fullmatch(data["desk"]):
            raise WorkstationError(f"sync config {path}: desk is not a desk id")
        return cls(server, data["desk"], data["token"])

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server,
            transport=httpx.HTTPTransport(retries=RETRIES),
            timeout=TIMEOUT,
            headers={"Authorization": f"Bearer {self.desk}.{self.token}"},
            follow_redirects=False,
        )


def _refused(response: httpx.Response) -> WorkstationError:
    """The server's error as one line: status, stable code, message."""
    code, message = None, response.reason_phrase or "request failed"
    try:
        error = response.json().get("error", {})
        code, message = error.get("code") or code, error.get("message") or message
    except (ValueError, AttributeError):
        pass
    label = f"{response.status_code} {code}" if code else str(response.status_code)
    return WorkstationError(f"server refused ({label}): {one_line(message)}", code=None)


def _unreachable(config: SyncConfig, exc: httpx.HTTPError) -> WorkstationError:
    return WorkstationError(f"cannot reach the server at {config.server}: {exc.__class__.__name__}: {exc}")


def pull(config: SyncConfig, out: Path):
    """Download the inbound bundle to `out` (streamed to a temporary file, then checked as
    an inbound bundle, then renamed). Returns the parsed bundle."""
    out = Path(out)
    try:
        with config.client() as client, client.stream("GET", INBOUND_PATH) as response:
            if response.status_code != 200:
                response.read()
                raise _refused(response)
            with atomic_writer(out, mode=0o644, overwrite=False) as sink:
                for data in response.iter_bytes(1024 * 1024):
                    sink.write(data)
                bundle = read_bundle(sink, INBOUND)  # checked before it takes the name
    except httpx.HTTPError as exc:
        raise _unreachable(config, exc) from exc
    return bundle


def push(config: SyncConfig, path: Path) -> dict:
    """Upload an outbound bundle; the server's JSON result."""
    data = Path(path).read_bytes()
    if len(data) < PREFIX.size or data[: len(MAGIC)] != MAGIC or data[len(MAGIC) + 1] != ord(OUTBOUND):
        raise WorkstationError(f"{path} is not an outbound bundle (make one with `quietline ws export`)")
    try:
        with config.client() as client:
            response = client.post(OUTBOUND_PATH, content=data, headers={"Content-Type": "application/octet-stream"})
    except httpx.HTTPError as exc:
        raise _unreachable(config, exc) from exc
    if not response.is_success:
        raise _refused(response)
    try:
        return response.json()
    except ValueError as exc:
        raise WorkstationError("the server accepted the bundle but its answer is not JSON") from exc


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar=CONFIG_ENV,
    default=REPO_ROOT / DEFAULT_CONFIG,
    show_default=DEFAULT_CONFIG,
    help=f"The sync config file (or ${CONFIG_ENV}).",
)
@click.pass_context
def sync(ctx: click.Context, config_path: Path) -> None:
    """Move bundles between the server and removable media (online machine; no keys)."""
    ctx.obj = config_path


@sync.command("pull")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Where to write the inbound bundle.")
@click.pass_obj
def pull_cmd(config_path: Path, out: Path) -> None:
    """Download everything the server holds for the desk as one inbound bundle."""
    bundle = pull(SyncConfig.load(config_path), out)
    items = bundle.header.get("items", [])
    kinds = {kind: sum(1 for i in items if isinstance(i, dict) and i.get("type") == kind)
             for kind in ("report", "followup", "attachment", "withdrawal")}
    confirmed = len(bundle.header.get("confirmed_outbound", []) or [])
    click.echo(
        f"bundle {bundle.header['bundle_id']} -> {out} ({os.path.getsize(out)} bytes): "
        f"{kinds['report']} report(s), {kinds['followup']} follow-up(s), {kinds['attachment']} attachment(s), "
        f"{kinds['withdrawal']} withdrawal(s), {confirmed} outbound bundle(s) confirmed"
    )


@sync.command("push")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.pass_obj
def push_cmd(config_path: Path, file: Path) -> None:
    """Upload an outbound bundle made by `quietline ws export`."""
    result = push(SyncConfig.load(config_path), file)
    dropped = result.get("replies_dropped") or 0
    click.echo(
        f"bundle {result.get('bundle_id')} applied: {result.get('replies_stored')} reply(ies) stored, "
        f"{result.get('acks_applied')} acknowledgement(s) applied"
        + (f", {dropped} reply(ies) dropped: their cases are no longer on the server (withdrawn or expired)" if dropped else "")
    )
