"""`quietline keys`: root key, signed manifest, and the development deployment."""

import json

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from crypto.encoding import b64decode
from crypto.manifest import fingerprint, verify_manifest
from workstation.keys_cli import DEV_PASSPHRASE
from workstation.vault import KDF_PROFILES, Vault
from ws_helpers import assert_one_line_error


def test_keys_dev_creates_everything_once(cli, tmp_path):
    keys_dir, var_dir = tmp_path / "keys" / "dev", tmp_path / "var" / "dev"
    result = cli("keys", "dev", "--keys-dir", keys_dir, "--var-dir", var_dir)
    assert result.exit_code == 0, result.output

    deployment = json.loads((keys_dir / "deployment.json").read_text())
    root_pk = b64decode(deployment["root_pk"], length=32)
    assert deployment["v"] == 1 and deployment["org"]
    assert fingerprint(root_pk) in result.output
    root_sk = b64decode(json.loads((keys_dir / "root.secret.json").read_text())["root_sk"], length=64)
    assert root_sk[32:] == root_pk
    manifest = verify_manifest((keys_dir / "manifest.json").read_bytes(), root_pk)
    [desk] = manifest.desks
    assert (desk.id, desk.name) == ("desk-1", "Reprisals desk (development)")

    with Vault.open(var_dir / "vault", DEV_PASSPHRASE) as vault:
        assert vault.desk.public == desk
    key_file = json.loads((var_dir / "vault" / "vault.key").read_text())
    assert (key_file["kdf"]["opslimit"], key_file["kdf"]["memlimit"]) == KDF_PROFILES["interactive"]

    sync = json.loads((var_dir / "sync.json").read_text())
    assert sync["server"] == "http://127.0.0.1:8470" and sync["desk"] == "desk-1"
    hashes = json.loads((var_dir / "desk-tokens.json").read_text())["desks"]
    assert set(hashes) == {"desk-1"} and hashes["desk-1"].startswith("$argon2id$")
    assert PasswordHasher().verify(hashes["desk-1"], sync["token"])
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(hashes["desk-1"], sync["token"] + "x")
    assert sync["token"] not in (var_dir / "desk-tokens.json").read_text()
    assert (var_dir / "bundles").is_dir()
    for secret in (keys_dir / "root.secret.json", var_dir / "sync.json", var_dir / "desk-tokens.json"):
        assert secret.stat().st_mode & 0o077 == 0, secret
    for path in (keys_dir / "root.secret.json", keys_dir / "manifest.json", var_dir / "vault", var_dir / "sync.json"):
        assert str(path) in result.output

    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    again = cli("keys", "dev", "--keys-dir", keys_dir, "--var-dir", var_dir)
    assert again.exit_code == 0, again.output
    assert "already exist" in again.output and fingerprint(root_pk) in again.output
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_keys_dev_finishes_what_an_interrupted_run_left(cli, tmp_path):
    keys_dir, var_dir = tmp_path / "keys", tmp_path / "var"
    assert cli("keys", "dev", "--keys-dir", keys_dir, "--var-dir", var_dir).exit_code == 0
    root_before = (keys_dir / "root.secret.json").read_bytes()
    (keys_dir / "manifest.json").unlink()  # as if the run had stopped before its last step
    result = cli("keys", "dev", "--keys-dir", keys_dir, "--var-dir", var_dir)
    assert result.exit_code == 0, result.output
    assert (keys_dir / "root.secret.json").read_bytes() == root_before
    root_pk = b64decode(json.loads((keys_dir / "deployment.json").read_text())["root_pk"])
    [desk] = verify_manifest((keys_dir / "manifest.json").read_bytes(), root_pk).desks
    with Vault.open(var_dir / "vault", DEV_PASSPHRASE) as vault:
        assert vault.desk.public == desk


def test_root_and_manifest_commands(cli, tmp_path):
    for n in (1, 2):
        result = cli("ws", "--vault", tmp_path / f"vault{n}", "init", "--desk-id", f"desk-{n}", "--name", f"Desk {n}",
                     "--public-out", tmp_path / f"desk-{n}.json")
        assert result.exit_code == 0, result.output
    result = cli("keys", "root", "--out", tmp_path / "root.json", "--deployment", tmp_path / "deployment.json", "--org", "OHCHR")
    assert result.exit_code == 0, result.output
    root_pk = b64decode(json.loads((tmp_path / "deployment.json").read_text())["root_pk"])
    assert fingerprint(root_pk) in result.output
    result = cli("keys", "manifest", "--root", tmp_path / "root.json", "--desk", tmp_path / "desk-1.json",
                 "--desk", tmp_path / "desk-2.json", "--org", "OHCHR", "--out", tmp_path / "manifest.json")
    assert result.exit_code == 0, result.output
    manifest = verify_manifest((tmp_path / "manifest.json").read_bytes(), root_pk)
    assert manifest.org == "OHCHR" and [d.id for d in manifest.desks] == ["desk-1", "desk-2"]

    assert_one_line_error(cli("keys", "root", "--out", tmp_path / "root.json"), "refusing to overwrite")
    assert_one_line_error(
        cli("keys", "manifest", "--root", tmp_path / "root.json", "--desk", tmp_path / "desk-1.json",
            "--desk", tmp_path / "desk-1.json", "--org", "O", "--out", tmp_path / "m2.json"),
        "bad_manifest",
    )
    assert_one_line_error(
        cli("keys", "manifest", "--root", tmp_path / "desk-1.json", "--desk", tmp_path / "desk-1.json",
            "--org", "O", "--out", tmp_path / "m3.json"),
        "not a Quietline root key file",
    )
    assert not (tmp_path / "m2.json").exists() and not (tmp_path / "m3.json").exists()
