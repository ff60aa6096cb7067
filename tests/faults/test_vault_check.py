"""`quietline ws check`, the vault's own integrity check that the kill tests rely on, finds
real damage: an attachment file cut short, flipped or gone, a record moved to another row,
a case naming an attachment with no record, a broken audit chain; and tells apart what an
interrupted import left (harmless, cleared by the next import), which it lists but does not
count as damage."""

import shutil
import sqlite3
import subprocess

import pytest

from crypto.desk import DeskKeys
from workstation import audit
from workstation.cases import ATTACHMENT, CASE
from workstation.importer import import_bundle
from workstation.vault import Vault
from ws_helpers import InboundBundle, Submitter

from .desk import PASSPHRASE, QUIETLINE, ws_environment


@pytest.fixture(scope="module")
def whole_vault(tmp_path_factory):
    root = tmp_path_factory.mktemp("check")
    desk = DeskKeys.generate("desk-1", "Test desk")
    path = root / "vault"
    with Vault.create(path, PASSPHRASE, desk, kdf="interactive") as vault:
        people = [Submitter.new() for _ in range(2)]
        bundle = InboundBundle()
        for n, person in enumerate(people):
            bundle.add_report(person.case_id, person.report((desk.public,), attachments=[(f"f{n}.bin", bytes([n]) * 600_000)]))
        assert not import_bundle(vault, bundle.write(root / "in.qlb")).refused
        audit.record(vault, "tester", "import")
    return path


def check(path) -> subprocess.CompletedProcess:
    return subprocess.run([QUIETLINE, "ws", "check"], env=ws_environment(path), capture_output=True, text=True, timeout=120)


def damaged_copy(whole_vault, tmp_path, damage) -> subprocess.CompletedProcess:
    path = shutil.copytree(whole_vault, tmp_path / "vault")
    with Vault.open(path, PASSPHRASE) as vault:
        damage(path, vault)
    return check(path)


def attachment_file(path, vault):
    record = vault.records(ATTACHMENT)[0][1]
    return path / "attachments" / f"{record['file']}.qla"


def cut_short(path, vault):
    f = attachment_file(path, vault)
    f.write_bytes(f.read_bytes()[:-1000])


def flipped(path, vault):
    f = attachment_file(path, vault)
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 1
    f.write_bytes(bytes(data))


def gone(path, vault):
    attachment_file(path, vault).unlink()


def moved(path, vault):
    (rid_a, _), (rid_b, _) = vault.records(CASE)[:2]
    with sqlite3.connect(path / "vault.db") as db:
        data_a = db.execute("SELECT data FROM records WHERE rid = ?", (rid_a,)).fetchone()[0]
        db.execute("UPDATE records SET data = ? WHERE rid = ?", (data_a, rid_b))
    db.close()


def orphaned(path, vault):
    with sqlite3.connect(path / "vault.db") as db:
        db.execute("DELETE FROM records WHERE rid = ?", (vault.records(ATTACHMENT)[0][0],))
    db.close()


def audit_cut(path, vault):
    with sqlite3.connect(path / "vault.db") as db:
        db.execute("DELETE FROM records WHERE kind = 'audit'")
    db.close()


@pytest.mark.parametrize(("damage", "says"), [
    (cut_short, "damaged or was altered"),
    (flipped, "damaged or was altered"),
    (gone, "its file is missing"),
    (moved, "moved to another place"),
    (orphaned, "has no record of its own"),
    (audit_cut, "audit log"),
], ids=lambda v: getattr(v, "__name__", None) or "")
def test_ws_check_finds_real_damage(whole_vault, tmp_path, damage, says):
    result = damaged_copy(whole_vault, tmp_path, damage)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "DAMAGED" in result.stdout and says in result.stdout, result.stdout
    assert "error: vault_damaged" in result.stderr


def test_ws_check_passes_a_whole_vault_and_lists_what_an_interrupted_import_left(whole_vault, tmp_path):
    assert "the vault is whole: 2 cases, 2 attachments" in check(whole_vault).stdout
    path = shutil.copytree(whole_vault, tmp_path / "vault")
    (path / "attachments" / ("ab" * 16 + ".qla")).write_bytes(b"ciphertext an import stored before it was killed")
    (path / "attachments" / ".cd.qla.0123.tmp").write_bytes(b"half")
    result = check(path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("left by an interrupted command") == 2, result.stdout
