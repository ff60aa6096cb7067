"""`quietline keys`: the organisation root key, the signed recipients manifest, and a whole
development deployment in one command (docs/DEVELOPMENT.md)."""

import json
from pathlib import Path

import click
from nacl.bindings import crypto_sign_keypair

from crypto.desk import DeskKeys
from crypto.encoding import b64decode, b64encode
from crypto.errors import ProtocolError
from crypto.manifest import DeskPublic, Manifest, fingerprint, sign_manifest, verify_manifest

from .errors import CommandGroup, WorkstationError
from .files import today, write_atomic
from .vault import KEY_FILE, Vault

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_PASSPHRASE = "quietline-dev"
DEV_DESK_ID = "desk-1"
DEV_DESK_NAME = "Reprisals desk (development)"
DEV_ORG = "Quietline (development)"
DEV_SERVER = "http://127.0.0.1:8470"


def _read_json(path: Path, what: str) -> dict:
    try:
        value = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise WorkstationError(f"cannot read {what} {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise WorkstationError(f"{what} {path} is not JSON") from exc
    if not isinstance(value, dict):
        raise WorkstationError(f"{what} {path} is not a JSON object")
    return value


def _write_json(path: Path, value: dict, *, mode: int = 0o644, overwrite: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8") + b"\n", mode=mode, overwrite=overwrite)


# -- desk public keys (written by `ws init`, read by `keys manifest`) ---------------------------


def write_desk_public(desk: DeskKeys, path: Path) -> None:
    _write_json(
        Path(path),
        {"id": desk.id, "name": desk.name, "box_pk": b64encode(desk.box_public), "sign_pk": b64encode(desk.sign_public)},
    )


def read_desk_public(path: Path) -> DeskPublic:
    data = _read_json(path, "desk public key file")
    try:
        return DeskPublic(
            id=str(data["id"]),
            name=str(data["name"]),
            box_public=b64decode(data["box_pk"], field="box_pk", length=32),
            sign_public=b64decode(data["sign_pk"], field="sign_pk", length=32),
        )
    except KeyError as exc:
        raise WorkstationError(f"desk public key file {path} lacks {exc.args[0]!r}") from exc


# -- root key -----------------------------------------------------------------------------------


def create_root(path: Path) -> bytes:
    """A new organisation root signing key at `path` (never overwritten). Returns the public key."""
    public, secret = crypto_sign_keypair()
    _write_json(Path(path), {"v": 1, "root_sk": b64encode(secret)}, mode=0o600)
    return public


def load_root(path: Path) -> bytes:
    """The 64-byte root secret key from a root key file."""
    data = _read_json(path, "root key file")
    if data.get("v") != 1 or "root_sk" not in data:
        raise WorkstationError(f"{path} is not a Quietline root key file")
    return b64decode(data["root_sk"], field="root_sk", length=64)


def write_deployment(path: Path, org: str, root_public: bytes) -> None:
    _write_json(Path(path), {"v": 1, "org": org, "root_pk": b64encode(root_public)}, overwrite=True)


def build_manifest(root_secret: bytes, org: str, desks: list[DeskPublic]) -> bytes:
    """The signed manifest file's bytes, checked against the root public key it must verify with."""
    data = sign_manifest(Manifest(org=org, issued=today(), desks=tuple(desks)), root_secret)
    verify_manifest(data, root_secret[32:])
    return data


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
def keys() -> None:
    """Organisation root key and the signed recipients manifest."""


@keys.command()
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The root key file to create.")
@click.option("--deployment", type=click.Path(path_type=Path, dir_okay=False), help="Also write the deployment file clients pin.")
@click.option("--org", help="Organisation name for the deployment file.")
def root(out: Path, deployment: Path | None, org: str | None) -> None:
    """Create a new organisation root signing key (keep it offline)."""
    if deployment is not None and not org:
        raise click.UsageError("--deployment needs --org")
    public = create_root(out)
    if deployment is not None:
        write_deployment(deployment, org, public)
    click.echo(f"root key written to {out} (secret: keep it offline)")
    click.echo(f"root public key: {b64encode(public)}")
    click.echo(f"root fingerprint: {fingerprint(public)}")
    if deployment is not None:
        click.echo(f"deployment file: {deployment}")


@keys.command()
@click.option("--root", "root_file", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--desk",
    "desk_files",
    required=True,
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A desk's public key file from `ws init` (repeat for each desk).",
)
@click.option("--org", required=True, help="Organisation name.")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The manifest file to write.")
def manifest(root_file: Path, desk_files: tuple[Path, ...], org: str, out: Path) -> None:
    """Sign the recipients manifest listing the desks that may open reports."""
    root_secret = load_root(root_file)
    data = build_manifest(root_secret, org, [read_desk_public(path) for path in desk_files])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, data, mode=0o644)
    click.echo(f"manifest for {len(desk_files)} desk(s) signed and written to {out}")
    click.echo(f"root fingerprint: {fingerprint(root_secret[32:])}")


def _hash_token(token: str) -> str:
    # The server's own hasher, so the hash is what its verifier expects.
    from server.security.desk_auth import hash_token

    return hash_token(token)


def _new_token() -> str:
    from server.security.desk_auth import new_token

    return new_token()


def update_desk_tokens(path: Path, desk_id: str, token_hash: str | None) -> int:
    """Set (or, with None, remove) one desk's hash in the server's desk tokens file
    ({"desks": {desk_id: "$argon2id$..."}}), keeping the others; returns how many remain."""
    desks: dict[str, str] = {}
    if Path(path).exists():
        desks = _read_json(path, "desk tokens file").get("desks")
        if not isinstance(desks, dict):
            raise WorkstationError(f'desk tokens file {path} must be {{"desks": {{desk_id: hash}}}}')
    if token_hash is None:
        if desk_id not in desks:
            raise WorkstationError(f"desk tokens file {path} has no token for {desk_id}")
        del desks[desk_id]
    else:
        desks[desk_id] = token_hash
    _write_json(Path(path), {"desks": dict(sorted(desks.items()))}, mode=0o600, overwrite=True)
    return len(desks)


@keys.command()
@click.option("--desk", "desk_id", required=True, help="The desk's id, as in the manifest.")
@click.option("--tokens", "tokens_file", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The server's desk tokens file (QUIETLINE_DESK_TOKENS); created if absent.")
@click.option("--sync-config", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the desk's sync config holding the new token (mode 0600).")
@click.option("--server", "server_url", help="The server URL the sync config names.")
@click.option("--revoke", is_flag=True, help="Remove the desk's token instead of issuing one.")
def token(desk_id: str, tokens_file: Path, sync_config: Path | None, server_url: str | None, revoke: bool) -> None:
    """Issue or rotate a desk's transport token (or --revoke it).

    The token's Argon2id hash replaces the desk's entry in the tokens file; the token itself
    goes only into the sync config, for the desk's online sync machine. App servers read
    the tokens file at start: restart each to take the change."""
    from crypto.manifest import DESK_ID

    if not DESK_ID.fullmatch(desk_id):
        raise click.UsageError(f"{desk_id!r} is not a desk id (lower-case letters, digits and -)")
    if revoke:
        if sync_config or server_url:
            raise click.UsageError("--revoke takes no --sync-config or --server")
        left = update_desk_tokens(tokens_file, desk_id, None)
        click.echo(f"token of {desk_id} removed from {tokens_file} ({left} desk(s) left); restart the app servers")
        return
    if not sync_config or not server_url:
        raise click.UsageError("issuing a token needs --sync-config and --server")
    if not server_url.startswith(("https://", "http://")):
        raise click.UsageError("--server must be an http(s) URL")
    new = _new_token()
    # Each file is replaced whole (written aside, then renamed); after a failure, run it again.
    _write_json(sync_config, {"server": server_url.rstrip("/"), "desk": desk_id, "token": new}, mode=0o600, overwrite=True)
    count = update_desk_tokens(tokens_file, desk_id, _hash_token(new))
    click.echo(f"new token for {desk_id} written to {sync_config} (mode 0600: move it to the desk's sync machine)")
    click.echo(f"its hash stored in {tokens_file} ({count} desk(s)); restart the app servers to use it")


@keys.command()
@click.option("--keys-dir", type=click.Path(path_type=Path, file_okay=False), default=REPO_ROOT / "keys/dev", show_default="keys/dev")
@click.option("--var-dir", type=click.Path(path_type=Path, file_okay=False), default=REPO_ROOT / "var/dev", show_default="var/dev")
@click.option("--server", "server_url", default=DEV_SERVER, show_default=True, help="Where `sync` finds the server.")
def dev(keys_dir: Path, var_dir: Path, server_url: str) -> None:
    """Create, once, everything a local development deployment needs (docs/DEVELOPMENT.md).

    The development vault uses Argon2id's INTERACTIVE cost so tests and demos open it fast;
    a real vault (`ws init`) defaults to MODERATE."""
    manifest_path = keys_dir / "manifest.json"
    if manifest_path.exists():
        click.echo(f"development keys already exist ({manifest_path}); nothing done")
        try:
            root_public = b64decode(_read_json(keys_dir / "deployment.json", "deployment file")["root_pk"], length=32)
            click.echo(f"root fingerprint: {fingerprint(root_public)}")
        except (WorkstationError, KeyError, ProtocolError):
            pass
        return

    keys_dir.mkdir(parents=True, exist_ok=True)
    var_dir.mkdir(parents=True, exist_ok=True)
    # Each step reuses what an interrupted earlier run left; the manifest comes last and
    # marks the deployment complete.
    root_path = keys_dir / "root.secret.json"
    root_secret = load_root(root_path) if root_path.exists() else None
    if root_secret is None:
        create_root(root_path)
        root_secret = load_root(root_path)
    root_public = root_secret[32:]
    write_deployment(keys_dir / "deployment.json", DEV_ORG, root_public)

    vault_path = var_dir / "vault"
    if (vault_path / KEY_FILE).exists():
        vault = Vault.open(vault_path, DEV_PASSPHRASE)
    else:
        vault = Vault.create(vault_path, DEV_PASSPHRASE, DeskKeys.generate(DEV_DESK_ID, DEV_DESK_NAME), kdf="interactive")
    with vault:
        desk = vault.desk
    desk_public_path = keys_dir / f"{desk.id}.public.json"
    if desk_public_path.exists():
        desk_public_path.unlink()
    write_desk_public(desk, desk_public_path)

    token = _new_token()
    _write_json(var_dir / "sync.json", {"server": server_url, "desk": desk.id, "token": token}, mode=0o600, overwrite=True)
    _write_json(var_dir / "desk-tokens.json", {"desks": {desk.id: _hash_token(token)}}, mode=0o600, overwrite=True)
    (var_dir / "bundles").mkdir(exist_ok=True)

    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(manifest_path, build_manifest(root_secret, DEV_ORG, [desk.public]), mode=0o644, overwrite=False)

    click.echo("development deployment created")
    click.echo(f"root fingerprint: {fingerprint(root_public)}")
    for label, path in (
        ("root key (development only)", root_path),
        ("deployment file", keys_dir / "deployment.json"),
        ("recipients manifest", manifest_path),
        ("desk public keys", desk_public_path),
        (f"vault (passphrase '{DEV_PASSPHRASE}', interactive Argon2id: development only)", vault_path),
        ("sync config with the desk token", var_dir / "sync.json"),
        ("desk token hashes for the server", var_dir / "desk-tokens.json"),
        ("bundles folder", var_dir / "bundles"),
    ):
        click.echo(f"  {label}: {path}")
