"""`quietline keys token`: a desk transport token issued, rotated and revoked. The server's
own authenticator (DeskAuthenticator, as create_app loads it) takes the issued token from
the sync config and refuses the one it replaced."""

import json

import pytest

from crypto.desk import DeskKeys
from crypto.manifest import Manifest
from server.errors import ApiError
from server.security.desk_auth import DeskAuthenticator
from workstation.sync.cli import SyncConfig


@pytest.fixture
def manifest():
    return Manifest(org="Org", issued="2026-12-01", desks=(DeskKeys.generate("desk-1", "One").public,
                                                          DeskKeys.generate("desk-2", "Two").public))


def accepts(tokens_file, manifest, config_file) -> bool:
    config = SyncConfig.load(config_file)
    try:
        return DeskAuthenticator.from_file(tokens_file, manifest).authenticate(f"Bearer {config.desk}.{config.token}") == config.desk
    except ApiError:
        return False


def test_issue_rotate_and_revoke_a_desk_token(cli, tmp_path, manifest):
    tokens, first, second, other = (tmp_path / n for n in ("desk-tokens.json", "s1.json", "s2.json", "o.json"))
    for desk, out in (("desk-1", first), ("desk-2", other)):
        result = cli("keys", "token", "--desk", desk, "--tokens", tokens, "--sync-config", out, "--server", "https://r.example.org/")
        assert result.exit_code == 0, result.output
    assert json.loads(first.read_text())["server"] == "https://r.example.org"
    assert accepts(tokens, manifest, first) and accepts(tokens, manifest, other)
    assert json.loads(first.read_text())["token"] not in tokens.read_text()  # only its hash is there
    for path in (tokens, first):
        assert path.stat().st_mode & 0o077 == 0, path

    rotated = cli("keys", "token", "--desk", "desk-1", "--tokens", tokens, "--sync-config", second, "--server", "https://r.example.org")
    assert rotated.exit_code == 0 and "restart the app servers" in rotated.output, rotated.output
    assert accepts(tokens, manifest, second) and not accepts(tokens, manifest, first)
    assert accepts(tokens, manifest, other)  # the other desk's token is untouched

    revoked = cli("keys", "token", "--desk", "desk-1", "--tokens", tokens, "--revoke")
    assert revoked.exit_code == 0, revoked.output
    assert set(json.loads(tokens.read_text())["desks"]) == {"desk-2"}
    assert not accepts(tokens, manifest, second) and accepts(tokens, manifest, other)


def test_token_refusals_change_nothing(cli, tmp_path):
    tokens = tmp_path / "desk-tokens.json"
    for args in (("--desk", "Desk 1", "--sync-config", tmp_path / "s.json", "--server", "https://x"),
                 ("--desk", "desk-1"),  # issuing needs somewhere to put the token
                 ("--desk", "desk-1", "--sync-config", tmp_path / "s.json", "--server", "ftp://x"),
                 ("--desk", "desk-1", "--revoke")):  # nothing to revoke
        result = cli("keys", "token", "--tokens", tokens, *args)
        assert result.exit_code != 0 and "error" in result.output.lower(), result.output
    assert list(tmp_path.iterdir()) == []
