"""The workstation refuses every tampered artifact it can see, through the real
`quietline ws import`: a tampered item is refused with its code (a line of the command's
output and an entry in the vault's import log) and leaves no trace in the vault, a damaged
bundle is refused whole (one error line, exit 1, nothing imported), and afterwards the
genuine artifact still imports into the same vault."""

import secrets
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from workstation.cli import ws
from workstation.importer import IMPORT
from workstation.vault import ATTACHMENT_DIR, Vault

from .table import VALID, BundleFile, Filed, Stream, ids, rows_for
from .world import World

PASSPHRASE = "tamper suite passphrase"
LOG_KINDS = {"import", "audit", "audit_head"}  # what an import writes even when it refuses everything


@pytest.fixture(autouse=True)
def ws_env(monkeypatch):
    monkeypatch.setenv("QUIETLINE_VAULT_PASSPHRASE", PASSPHRASE)
    for name in ("QUIETLINE_VAULT", "QUIETLINE_SYNC_CONFIG", "QUIETLINE_DEBUG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def empty_vault(tmp_path_factory, world) -> Path:
    path = tmp_path_factory.mktemp("template") / "vault"
    Vault.create(path, PASSPHRASE, world.desk1, kdf="interactive").close()
    return path


@pytest.fixture
def vault_path(tmp_path, empty_vault) -> Path:
    """A new, empty vault of desk-1 for each test (a copy of one made once)."""
    path = tmp_path / "vault"
    shutil.copytree(empty_vault, path)
    return path


class Desk:
    """The focal point at the workstation: writes bundles to disk and runs `ws import`."""

    def __init__(self, world: World, vault_path: Path, folder: Path):
        self.world = world
        self.vault_path = vault_path
        self.folder = folder
        self.runner = CliRunner()

    def write(self, data: bytes) -> Path:
        path = self.folder / f"{secrets.token_hex(4)}.qlb"
        path.write_bytes(data)
        return path

    def bundle(self, items_blobs) -> Path:
        return self.write(self.world.inbound(items_blobs, bundle_id=secrets.token_hex(16)))

    def run_import(self, path: Path):
        return self.runner.invoke(ws, ["--vault", str(self.vault_path), "--operator", "tester", "import", str(path)])

    def import_ok(self, path: Path) -> str:
        result = self.run_import(path)
        assert result.exit_code == 0 and "REFUSED" not in result.output, result.output
        return result.output

    def contents(self) -> dict:
        """Everything the vault holds but its logs, and every file beside its database;
        `imports`: the import log, bundle by bundle."""
        with Vault.open(self.vault_path, PASSPHRASE) as vault:
            kinds = {row[0] for row in vault._db.execute("SELECT DISTINCT kind FROM records")} - LOG_KINDS
            records = {kind: sorted((rid.hex(), repr(data)) for rid, data in vault.records(kind)) for kind in kinds}
            imports = {data["bundle_id"]: data for _, data in vault.records(IMPORT)}
        files = sorted(p.name for p in (self.vault_path / ATTACHMENT_DIR).iterdir())
        return {"records": records, "files": files, "imports": imports}



@pytest.fixture
def desk(world, vault_path, tmp_path) -> Desk:
    return Desk(world, vault_path, tmp_path)


def item_of(world: World, filed: Filed) -> tuple[dict, bytes]:
    case_id = world.case(filed.case).case_id
    if filed.kind == "report":
        return {"type": "report", "case_id": case_id, "uploads": []}, filed.envelope
    if filed.kind == "withdrawal":  # the server names no case: only the sealed body does
        return {"type": "withdrawal", "withdrawal_id": secrets.token_hex(16)}, filed.envelope
    return {"type": "followup", "case_id": case_id, "seq": filed.seq, "uploads": []}, filed.envelope


def attachment_item(world: World, stream: Stream) -> tuple[dict, bytes]:
    item = {"type": "attachment", "case_id": world.case(stream.case).case_id, "upload_id": world.upload_id,
            "chunks": world.att.chunks if stream.announced is None else stream.announced}
    return item, b"".join(stream.chunks)


def base_items(world: World, kind: str, artifact) -> list[tuple[dict, bytes]]:
    """What the vault holds before the artifact arrives: the cases' reports for a follow-up,
    the report naming the attachment, and whatever a replay replays."""
    if kind in ("followup", "withdrawal"):
        reports = [({"type": "report", "case_id": c.case_id, "uploads": []}, world.report_of(c.name)) for c in (world.a, world.b)]
        return reports + [item_of(world, f) for f in artifact.before]
    if kind == "attachment":
        return [({"type": "report", "case_id": world.a.case_id, "uploads": [world.upload_id]}, world.report_a_att)]
    return []


def arrival(world: World, kind: str, artifact) -> list[tuple[dict, bytes]]:
    return [attachment_item(world, artifact) if kind == "attachment" else item_of(world, artifact)]


def refusals(output: str) -> list[str]:
    """The codes of the command's REFUSED lines ("  REFUSED <item>: <code>: <message>")."""
    codes = []
    for line in output.splitlines():
        if line.strip().startswith("REFUSED "):
            codes.append(line.split(": ")[1])
    return codes


def deliver(desk: Desk, kind: str, artifact) -> tuple[Path, object]:
    if isinstance(artifact, BundleFile):
        path = desk.write(artifact.data)
    else:
        base = base_items(desk.world, kind, artifact)
        if base:
            desk.import_ok(desk.bundle(base))
        path = desk.bundle(arrival(desk.world, kind, artifact))
    return path, desk.run_import(path)


LABELS = {"report": "reports", "inbound": "reports", "followup": "follow-ups", "withdrawal": "withdrawals",
          "attachment": "attachments"}


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_valid_artifact_is_imported(world, desk, kind):
    _, result = deliver(desk, kind, VALID[kind](world))
    assert result.exit_code == 0 and refusals(result.output) == [], result.output
    assert f"{LABELS[kind]}: 1 new" in result.output, result.output


@pytest.mark.parametrize("tamper", rows_for("workstation"), ids=ids(rows_for("workstation")))
def test_tampered_artifact_is_refused(world, desk, tamper):
    artifact = tamper.build(world)
    code = tamper.expect.workstation
    if isinstance(artifact, BundleFile):
        before = desk.contents()
        _, result = deliver(desk, tamper.artifact, artifact)
        # The whole bundle is refused: one line, exit 1, nothing imported, not even a log entry.
        assert result.exit_code == 1, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith(f"error: {code}: "), result.output
        assert "Traceback" not in result.output
        assert desk.contents() == before and before["imports"] == {}
    else:
        base = base_items(world, tamper.artifact, artifact)
        if base:
            desk.import_ok(desk.bundle(base))
        before = desk.contents()
        path = desk.bundle(arrival(world, tamper.artifact, artifact))
        result = desk.run_import(path)
        assert result.exit_code == 0, result.output
        assert refusals(result.output) == [code], result.output
        assert "1 item refused: not imported and not acknowledged" in result.output
        # Nothing of it in the vault (no record, no acknowledgement, no file, no temporary
        # file), and the refusal is in the import log.
        after = desk.contents()
        imports, earlier = after.pop("imports"), before.pop("imports")
        (new_import,) = set(imports) - set(earlier)
        assert after == before
        assert [r["code"] for r in imports[new_import]["refused"]] == [code]

    # The vault is still whole: the genuine artifact imports into it.
    genuine = tamper.valid(world)
    if isinstance(genuine, BundleFile):
        desk.import_ok(desk.write(genuine.data))
    else:
        output = desk.import_ok(desk.bundle(arrival(world, tamper.artifact, genuine)))
        label = LABELS[tamper.artifact]
        assert f"{label}: 1 new" in output or f"{label}: 0 new, 1 already" in output, output
