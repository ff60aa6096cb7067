"""`ws refer`: a referral encrypted with the real gpg to a key pair this test generates,
decrypted again with gpg, names only when allowed, attachments only as media, a bad key
refused, the user's own GnuPG home never touched, the referral logged and audited."""

import io
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest

from workstation import audit, casework
from workstation.importer import import_bundle
from ws_helpers import InboundBundle, Submitter, assert_one_line_error

ALL_YES = {
    "use_information": "yes", "use_name": "yes", "use_media": "yes", "state_action": "private",
    "sg_report": "named", "referral": {kind: "yes" for kind in ("national_protection", "nhri", "unhcr", "un_bodies", "ngos", "lawyers")},
}
REPORT = {
    "place": "Aleppo",
    "date": "2026-10",
    "reprisal_types": ["arbitrary_detention", "travel_ban"],
    "perpetrators": ["intelligence"],
    "urgency": ["detained"],
    "reporter_role": "victim",
    "reporter_name": "Rana Haddad",
    "organisation": "Rights Watch Aleppo",
    "affected": [{"relation": "self", "name": "Rana Haddad"}, {"relation": "colleague", "name": "Omar K.", "detail": "a lawyer"}],
    "consent": ALL_YES,
}
ACCOUNT = "Officers met me at the airport after the session and took my passport."


def gpg(home: Path, *args: str, input: bytes | None = None) -> bytes:
    """The real gpg, in `home`, with no passphrase anywhere (test keys only)."""
    cmd = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", "", *args]
    return subprocess.run(cmd, input=input, capture_output=True, check=True, timeout=60).stdout


class KeyPair:
    """A recipient's key pair in its own temporary GnuPG home (short path: gpg-agent's
    socket lives there)."""

    def __init__(self, uid: str, *, algo: str = "future-default", usage: str = "default", expire: str = "never", made: str | None = None):
        self.home = Path(tempfile.mkdtemp(prefix="qlt-gpg-"))
        self.uid = uid
        faked = ["--faked-system-time", made] if made else []  # a key made in the past, to expire
        gpg(self.home, *faked, "--quick-gen-key", uid, algo, usage, expire)
        self.fingerprint = self._fingerprint()

    def _fingerprint(self) -> str:
        for line in gpg(self.home, "--with-colons", "--fingerprint", self.uid).decode().splitlines():
            if line.startswith("fpr:"):
                return line.split(":")[9]
        raise AssertionError("no fingerprint")

    def export_public(self, path: Path, *, armor: bool = True) -> Path:
        path.write_bytes(gpg(self.home, *(["--armor"] if armor else []), "--export", self.fingerprint))
        return path

    def export_secret(self, path: Path) -> Path:
        path.write_bytes(gpg(self.home, "--armor", "--export-secret-keys", self.fingerprint))
        return path

    def decrypt(self, path: Path) -> bytes:
        return gpg(self.home, "--decrypt", str(path))

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="module")
def recipient():
    pair = KeyPair("NHRI Referrals <referrals@nhri.example>")
    yield pair
    pair.close()


@pytest.fixture(scope="module")
def other_recipient():
    pair = KeyPair("Lawyers Network <intake@lawyers.example>")
    yield pair
    pair.close()


@pytest.fixture
def own_gnupg(tmp_path, monkeypatch):
    """Where the user's own keyring would be: it must stay untouched (empty)."""
    home = tmp_path / "user-gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    return home


def import_case(vault, tmp_path, desks, *, report=REPORT, attachments=(), followups=()):
    sub = Submitter.new()
    bundle = InboundBundle().add_report(sub.case_id, sub.report(desks, country="SY", text=ACCOUNT, extra=report, attachments=list(attachments)))
    for seq, extra in enumerate(followups, start=1):
        bundle.add_followup(sub.case_id, seq, sub.followup(desks, **extra))
    result = import_bundle(vault, bundle.write(tmp_path / f"in-{sub.case_id[:6]}.qlb"))
    assert not result.refused, result.refused
    return sub.case_id


def refer(cli, vault_path, case_id, key, out, *args):
    return cli("ws", "--vault", vault_path, "--operator", "focal-1", "refer", case_id[:8], "--kind", "nhri", "--key", key, "--out", out, *args)


def test_referral_without_names_withholds_them_and_carries_the_account(cli, vault, vault_path, tmp_path, desks, recipient, own_gnupg):
    case_id = import_case(vault, tmp_path, desks, followups=[{"text": "They returned my passport today."}])
    key = recipient.export_public(tmp_path / "nhri.asc")
    out = tmp_path / "referral.asc"
    result = refer(cli, vault_path, case_id, key, out)
    assert result.exit_code == 0, result.output
    assert recipient.fingerprint in result.output

    assert out.read_bytes().startswith(b"-----BEGIN PGP MESSAGE-----")
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    text = recipient.decrypt(out).decode()
    for expected in (ACCOUNT, "They returned my passport today.", "Country: SY", "Place: Aleppo", "Date: 2026-10",
                     "arbitrary_detention, travel_ban", "Perpetrators: intelligence", "Urgency: detained",
                     "Reporter name: [withheld]", "Organisation: [withheld]", "self: [withheld]", "colleague: [withheld] (a lawyer)",
                     "national human rights institution (nhri)", f"Reference: {case_id[:8]}"):
        assert expected in text, expected
    assert "Rana" not in text and "Omar" not in text and "Rights Watch" not in text
    assert case_id not in text  # the short id only

    assert list(own_gnupg.iterdir()) == []  # the user's keyring was never used
    assert not (tmp_path / "user-home").exists()
    assert not [p for p in Path(tempfile.gettempdir()).glob("ql-gpg-*")]  # the temporary home is gone

    work = casework.load(vault, case_id)
    [logged] = work.referrals
    assert logged.recipient_kind == "nhri" and logged.fingerprint == recipient.fingerprint
    assert logged.recipient == recipient.uid and logged.by == "focal-1"
    assert logged.file == str(out.resolve()) and logged.included == ["information", "account"]
    [entry] = [e for e in audit.entries(vault) if e.action == "referral_export"]
    assert entry.case_id == case_id and entry.detail["fingerprint"] == recipient.fingerprint
    audit.verify(vault)


def test_referral_with_names_and_json_binary(cli, vault, vault_path, tmp_path, desks, recipient):
    case_id = import_case(vault, tmp_path, desks)
    key = recipient.export_public(tmp_path / "nhri.gpg", armor=False)  # a binary key file works too
    out = tmp_path / "referral.gpg"
    result = refer(cli, vault_path, case_id, key, out, "--with-names", "--binary", "--format", "json")
    assert result.exit_code == 0, result.output
    assert not out.read_bytes().startswith(b"-----BEGIN")
    document = json.loads(recipient.decrypt(out))
    assert document["schema"] == "quietline.referral/1"
    assert document["reporter_name"] == "Rana Haddad" and document["organisation"] == "Rights Watch Aleppo"
    assert [p["name"] for p in document["affected"]] == ["Rana Haddad", "Omar K."]
    assert document["account"] == ACCOUNT and document["names"] == "included"
    assert casework.load(vault, case_id).referrals[0].included == ["information", "account", "names"]


def test_referral_with_media_is_an_archive_of_the_document_and_the_attachments(cli, vault, vault_path, tmp_path, desks, recipient):
    photo, scan = os.urandom(300_000), b"%PDF-1.7 evidence"
    case_id = import_case(vault, tmp_path, desks, attachments=[("photo.jpg", photo), ("../scan.pdf", scan)])
    key = recipient.export_public(tmp_path / "nhri.asc")

    result = refer(cli, vault_path, case_id, key, tmp_path / "all.asc", "--with-media")
    assert result.exit_code == 0, result.output
    archive = zipfile.ZipFile(io.BytesIO(recipient.decrypt(tmp_path / "all.asc")))
    assert sorted(archive.namelist()) == ["attachments/photo.jpg", "attachments/scan.pdf", "referral.txt"]
    assert archive.read("attachments/photo.jpg") == photo and archive.read("attachments/scan.pdf") == scan
    assert ACCOUNT in archive.read("referral.txt").decode()

    result = refer(cli, vault_path, case_id, key, tmp_path / "one.asc", "--with-media", "--attachment", "../scan.pdf")
    assert result.exit_code == 0, result.output
    archive = zipfile.ZipFile(io.BytesIO(recipient.decrypt(tmp_path / "one.asc")))
    assert sorted(archive.namelist()) == ["attachments/scan.pdf", "referral.txt"]
    assert [r.included for r in casework.load(vault, case_id).referrals] == [
        ["information", "account", "attachment:photo.jpg", "attachment:scan.pdf"],
        ["information", "account", "attachment:scan.pdf"],
    ]

    # Attachments are media: naming one without --with-media, or one that is not there, is refused.
    assert_one_line_error(refer(cli, vault_path, case_id, key, tmp_path / "x.asc", "--attachment", "photo.jpg"), "--with-media")
    assert_one_line_error(refer(cli, vault_path, case_id, key, tmp_path / "x.asc", "--with-media", "--attachment", "nope"), "unknown_attachment")
    assert not (tmp_path / "x.asc").exists()


def _bad_key_files(tmp_path, recipient, other_recipient) -> dict[str, Path]:
    files = {
        "garbage": tmp_path / "garbage.asc",
        "empty": tmp_path / "empty.asc",
        "two keys": tmp_path / "two.asc",
        "secret": recipient.export_secret(tmp_path / "secret.asc"),
        "missing": tmp_path / "missing.asc",
    }
    for label, pair in (
        ("expired", KeyPair("Expired <old@example>", expire="1d", made="20200101T000000")),
        ("sign only", KeyPair("Signer <sign@example>", algo="ed25519", usage="sign")),
    ):
        files[label] = pair.export_public(tmp_path / f"{label}.asc")
        pair.close()
    files["garbage"].write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----\n")
    files["empty"].write_bytes(b"")
    files["two keys"].write_bytes(
        recipient.export_public(tmp_path / "a.asc").read_bytes() + other_recipient.export_public(tmp_path / "b.asc").read_bytes()
    )
    return files


def test_a_bad_recipient_key_is_refused_and_nothing_is_written(cli, vault, vault_path, tmp_path, desks, recipient, other_recipient):
    case_id = import_case(vault, tmp_path, desks)
    before = audit.head(vault)
    for label, key in _bad_key_files(tmp_path, recipient, other_recipient).items():
        out = tmp_path / f"out-{label}.asc"
        assert_one_line_error(refer(cli, vault_path, case_id, key, out), "bad_recipient_key")
        assert not out.exists(), label
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out-")], label  # no temporary file left
    assert casework.load(vault, case_id).referrals == []
    assert audit.head(vault) == before
    assert not [p for p in Path(tempfile.gettempdir()).glob("ql-gpg-*")]  # removed after a refusal too


def test_a_failure_while_encrypting_leaves_no_file_and_logs_nothing(cli, vault, vault_path, tmp_path, desks, recipient):
    case_id = import_case(vault, tmp_path, desks, attachments=[("photo.jpg", os.urandom(600_000))])
    [(_, attachment)] = vault.records("attachment")
    stored = vault_path / "attachments" / f"{attachment['file']}.qla"
    damaged = bytearray(stored.read_bytes())
    damaged[-100] ^= 1  # the last chunk fails authentication after most of the file went to gpg
    stored.write_bytes(bytes(damaged))
    out = tmp_path / "referral.asc"
    assert_one_line_error(refer(cli, vault_path, case_id, recipient.export_public(tmp_path / "k.asc"), out, "--with-media"), "damaged")
    assert sorted(p.name for p in tmp_path.iterdir() if "referral" in p.name) == []  # no file, no temporary file
    assert casework.load(vault, case_id).referrals == []
    assert [e for e in audit.entries(vault) if e.action == "referral_export"] == []


def test_an_existing_output_file_is_never_overwritten(cli, vault, vault_path, tmp_path, desks, recipient):
    case_id = import_case(vault, tmp_path, desks)
    out = tmp_path / "referral.asc"
    out.write_text("keep me")
    assert_one_line_error(refer(cli, vault_path, case_id, recipient.export_public(tmp_path / "k.asc"), out), "already exists")
    assert out.read_text() == "keep me"
    assert casework.load(vault, case_id).referrals == []
