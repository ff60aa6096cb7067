"""The vault: passphrase, records, attachment files, transactions, nothing readable on disk."""

import json
import os

import pytest

from crypto.encoding import b64decode
from workstation.exporter import export_bundle
from workstation.importer import import_bundle
from workstation.replies import write_reply
from workstation.vault import FILE_CHUNK, KDF_PROFILES, Vault, VaultError, kdf_profile
from ws_helpers import PASSPHRASE, InboundBundle, Submitter


def test_create_then_open_gives_back_the_desk_keys(vault, vault_path, desk):
    vault.close()
    with Vault.open(vault_path, PASSPHRASE) as again:
        assert again.desk == desk
    assert oct(vault_path.stat().st_mode & 0o777) == "0o700"
    assert oct((vault_path / "vault.key").stat().st_mode & 0o777) == "0o600"
    assert not [p for p in vault_path.parent.iterdir() if p.name.startswith(".")]  # no building directory left


def test_key_file_records_its_kdf_parameters(vault, vault_path):
    key_file = json.loads((vault_path / "vault.key").read_text())
    assert key_file["v"] == 1
    assert key_file["kdf"] == {
        "alg": "argon2id13",
        "opslimit": KDF_PROFILES["interactive"][0],
        "memlimit": KDF_PROFILES["interactive"][1],
    }
    assert len(b64decode(key_file["salt"])) == 16
    assert len(b64decode(key_file["nonce"])) == 24
    assert len(b64decode(key_file["sealed"])) == 32 + 16


def test_the_default_profile_is_moderate(monkeypatch):
    monkeypatch.delenv("QUIETLINE_VAULT_KDF")
    assert kdf_profile() == "moderate"
    monkeypatch.setenv("QUIETLINE_VAULT_KDF", "interactive")
    assert kdf_profile() == "interactive"
    with pytest.raises(VaultError):
        kdf_profile("fast")


def test_wrong_passphrase_is_refused(vault, vault_path):
    vault.close()
    with pytest.raises(VaultError) as info:
        Vault.open(vault_path, PASSPHRASE + "!")
    assert info.value.code == "wrong_passphrase"


def test_weakened_kdf_parameters_do_not_open_the_vault(vault, vault_path):
    vault.close()
    key_path = vault_path / "vault.key"
    key_file = json.loads(key_path.read_text())
    key_file["kdf"]["opslimit"] = 1
    key_path.write_text(json.dumps(key_file))
    with pytest.raises(VaultError, match="wrong passphrase"):
        Vault.open(vault_path, PASSPHRASE)
    key_file["kdf"]["memlimit"] = 2**50
    key_path.write_text(json.dumps(key_file))
    with pytest.raises(VaultError, match="unsupported key-derivation"):
        Vault.open(vault_path, PASSPHRASE)


def test_damaged_key_file_and_missing_vault(vault, vault_path, tmp_path):
    vault.close()
    with pytest.raises(VaultError, match="no vault"):
        Vault.open(tmp_path / "elsewhere", PASSPHRASE)
    (vault_path / "vault.key").write_text("{not json")
    with pytest.raises(VaultError, match="damaged"):
        Vault.open(vault_path, PASSPHRASE)


def test_create_refuses_short_passphrase_and_existing_vault(vault, vault_path, desk, tmp_path):
    with pytest.raises(VaultError, match="at least"):
        Vault.create(tmp_path / "v2", "short", desk, kdf="interactive")
    with pytest.raises(VaultError, match="already exists"):
        Vault.create(vault_path, PASSPHRASE, desk, kdf="interactive")
    assert not (tmp_path / "v2").exists()


def test_records_are_bound_to_their_row(vault):
    a, b = vault.rid("case", "a" * 32), vault.rid("case", "b" * 32)
    vault.put("case", a, {"who": "a"})
    vault.put("case", b, {"who": "b"})
    assert vault.get("case", a) == {"who": "a"}
    assert vault.get("followup", a) is None
    db = vault._db
    data_b = db.execute("SELECT data FROM records WHERE rid = ?", (b,)).fetchone()[0]
    db.execute("UPDATE records SET data = ? WHERE rid = ?", (data_b, a))
    with pytest.raises(VaultError, match="moved"):
        vault.get("case", a)
    db.execute("UPDATE records SET data = ? WHERE rid = ?", (data_b[:-1] + bytes([data_b[-1] ^ 1]), b))
    with pytest.raises(VaultError, match="damaged"):
        vault.get("case", b)


def test_transactions_are_all_or_nothing_and_savepoints_undo_only_their_part(vault):
    rid = vault.rid("case", "x")
    with pytest.raises(RuntimeError):
        with vault.transaction():
            vault.put("case", rid, {"n": 1})
            raise RuntimeError("crash")
    assert vault.get("case", rid) is None
    inner = vault.rid("case", "inner")
    with vault.transaction():
        vault.put("case", rid, {"n": 2})
        with pytest.raises(RuntimeError):
            with vault.transaction():
                vault.put("case", inner, {"n": 3})
                raise RuntimeError("refused item")
    assert vault.get("case", rid) == {"n": 2}
    assert vault.get("case", inner) is None


@pytest.mark.parametrize("size", [0, 1, FILE_CHUNK - 1, FILE_CHUNK, FILE_CHUNK + 1, 2 * FILE_CHUNK, 2 * FILE_CHUNK + 7])
def test_attachment_files_round_trip_at_chunk_boundaries(vault, size):
    data = os.urandom(size)
    file_id = vault.rid("attachment", size)
    # pieces of awkward sizes, including empty ones, as an opener produces them
    pieces = [data[i : i + 100_000] for i in range(0, size, 100_000)] + [b""]
    assert vault.store_attachment(file_id, iter(pieces)) == size
    assert b"".join(vault.read_attachment(file_id)) == data


def test_attachment_files_refuse_tampering_truncation_and_swapping(vault):
    data = os.urandom(FILE_CHUNK + 10)
    one, two = vault.rid("attachment", 1), vault.rid("attachment", 2)
    vault.store_attachment(one, [data])
    vault.store_attachment(two, [data])
    path = vault._attachment_path(one)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 30])  # drop the end of the final chunk
    with pytest.raises(VaultError, match="damaged"):
        b"".join(vault.read_attachment(one))
    path.write_bytes(raw[: 5 + 24 + FILE_CHUNK + 17])  # drop the whole final chunk
    with pytest.raises(VaultError, match="damaged"):
        b"".join(vault.read_attachment(one))
    path.write_bytes(vault._attachment_path(two).read_bytes())  # another attachment's file
    with pytest.raises(VaultError, match="damaged"):
        b"".join(vault.read_attachment(one))


def test_a_failing_source_leaves_no_attachment_file(vault):
    def pieces():
        yield b"x" * 1000
        raise RuntimeError("stream broke")

    file_id = vault.rid("attachment", "broken")
    with pytest.raises(RuntimeError):
        vault.store_attachment(file_id, pieces())
    assert list((vault.path / "attachments").iterdir()) == []


CANARIES = {
    "report text": "CANARY-report-text-7f3a",
    "place": "CANARY-place-field",
    "attachment name": "CANARY-evidence-name.jpg",
    "attachment content": "CANARY-ATTACHMENT-CONTENT-91b2",
    "follow-up text": "CANARY-followup-text-5e6d",
    "reply text": "CANARY-reply-text-0c4e",
    "extra field": "CANARY-perpetrator-field",
}


def test_nothing_readable_on_disk_after_import_reply_and_export(vault, vault_path, desks, desk, tmp_path):
    submitter = Submitter.new()
    report = submitter.report(
        desks,
        text=CANARIES["report text"],
        attachments=[(CANARIES["attachment name"], (CANARIES["attachment content"] * 5000).encode())],
        extra={"perpetrator_detail": CANARIES["extra field"], "place": CANARIES["place"]},
    )
    followup = submitter.followup(desks, text=CANARIES["follow-up text"])
    bundle = InboundBundle().add_report(submitter.case_id, report).add_followup(submitter.case_id, 1, followup)
    result = import_bundle(vault, bundle.write(tmp_path / "in.qlb"))
    assert not result.refused and result.new == {"report": 1, "followup": 1, "attachment": 1}
    write_reply(vault, submitter.case_id, "received", CANARIES["reply text"])
    export_bundle(vault, tmp_path / "out.qlb")

    needles = {label: text.encode() for label, text in CANARIES.items()}
    # Also UTF-16 spellings, in case anything stored text that way.
    needles.update({f"{label} (utf-16)": text.encode("utf-16-le") for label, text in CANARIES.items()})
    # Not even the case's public index, nor any desk private key.
    needles["case id (hex)"] = submitter.case_id.encode()
    needles["case id (bytes)"] = bytes.fromhex(submitter.case_id)
    needles["desk box secret"] = desk.box_secret
    needles["desk sign secret"] = desk.sign_secret[:32]
    needles["submitter reply key"] = submitter.keys.reply_public

    def scan() -> list:
        files = [p for p in vault_path.rglob("*") if p.is_file()]
        for path in files:
            raw = path.read_bytes()
            for label, needle in needles.items():
                assert needle not in raw, f"{label} found in {path.relative_to(vault_path)}"
        return files

    open_files = scan()  # while open: the write-ahead log holds the latest pages
    assert {p.name for p in open_files} >= {"vault.key", "vault.db", "vault.db-wal"}
    assert any(p.suffix == ".qla" for p in open_files)
    vault.close()
    scan()
