"""Fixtures for the workstation tests: a desk, its vault (Argon2id INTERACTIVE, for speed),
a signed manifest naming the desk, and a CLI runner that calls the real command groups."""

import click
import pytest
from click.testing import CliRunner
from nacl.bindings import crypto_sign_keypair

from crypto.desk import DeskKeys
from crypto.manifest import Manifest, sign_manifest, verify_manifest
from workstation.cli import ws
from workstation.keys_cli import keys
from workstation.sync.cli import sync
from workstation.vault import Vault
from ws_helpers import PASSPHRASE



@pytest.fixture(autouse=True)
def ws_env(monkeypatch):
    monkeypatch.setenv("QUIETLINE_VAULT_KDF", "interactive")
    monkeypatch.setenv("QUIETLINE_VAULT_PASSPHRASE", PASSPHRASE)
    for name in ("QUIETLINE_VAULT", "QUIETLINE_SYNC_CONFIG", "QUIETLINE_DEBUG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def desk() -> DeskKeys:
    return DeskKeys.generate("desk-1", "Test desk")


@pytest.fixture
def desks(desk):
    """The recipients a submitter seals to."""
    return (desk.public,)


@pytest.fixture
def vault_path(tmp_path):
    return tmp_path / "vault"


@pytest.fixture
def vault(vault_path, desk):
    v = Vault.create(vault_path, PASSPHRASE, desk, kdf="interactive")
    yield v
    v.close()


@pytest.fixture
def root_keys():
    return crypto_sign_keypair()  # (public, secret)


@pytest.fixture
def manifest(desk, root_keys) -> Manifest:
    root_pk, root_sk = root_keys
    data = sign_manifest(Manifest("Test org", "2026-11-20", (desk.public,)), root_sk)
    return verify_manifest(data, root_pk)


@click.group()
def _quietline() -> None:
    """The command groups this part of the system owns, mounted as `quietline` mounts them."""


for _group in (ws, keys, sync):
    _quietline.add_command(_group)


class Cli:
    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args, input=None, env=None):
        return self.runner.invoke(_quietline, [str(a) for a in args], input=input, env=env)


@pytest.fixture
def cli() -> Cli:
    return Cli()

