"""`quietline ws` end to end through click: init, import, cases, show (and --extract),
reply, export; every failure one line and a non-zero exit."""

import json
import os

import pytest

from crypto.bundle import OUTBOUND, read_bundle
from crypto.reply import open_reply
from workstation.cases import safe_filename
from ws_helpers import PASSPHRASE, InboundBundle, Submitter, assert_one_line_error


@pytest.fixture
def initialised(cli, tmp_path):
    """A vault made by `ws init`, and the desk public key file it wrote."""
    vault = tmp_path / "vault"
    result = cli("ws", "--vault", vault, "init", "--desk-id", "desk-1", "--name", "Test desk")
    assert result.exit_code == 0, result.output
    public = json.loads((tmp_path / "desk-1.public.json").read_text())
    return vault, public


def desks_from(public):
    from crypto.encoding import b64decode
    from crypto.manifest import DeskPublic

    return (DeskPublic(public["id"], public["name"], b64decode(public["box_pk"]), b64decode(public["sign_pk"])),)


def test_init_writes_the_vault_and_the_desk_public_keys(cli, initialised, tmp_path):
    vault, public = initialised
    assert set(public) == {"id", "name", "box_pk", "sign_pk"}
    assert public["id"] == "desk-1"
    assert (vault / "vault.key").is_file() and (vault / "vault.db").is_file()
    key_file = json.loads((vault / "vault.key").read_text())
    assert key_file["kdf"]["memlimit"] == 64 * 1024 * 1024  # QUIETLINE_VAULT_KDF=interactive in tests
    again = cli("ws", "--vault", vault, "init", "--desk-id", "desk-1", "--name", "Test desk")
    assert_one_line_error(again, "already exists")


def test_init_defaults_to_moderate_and_prompts_twice(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("QUIETLINE_VAULT_KDF")
    monkeypatch.delenv("QUIETLINE_VAULT_PASSPHRASE")
    vault = tmp_path / "v"
    result = cli("ws", "--vault", vault, "init", "--desk-id", "d", "--name", "D", input="a long passphrase\na long passphrase\n")
    assert result.exit_code == 0, result.output
    assert json.loads((vault / "vault.key").read_text())["kdf"]["memlimit"] == 256 * 1024 * 1024
    result = cli("ws", "--vault", vault, "cases", input="a long passphrase\n")
    assert result.exit_code == 0 and "no cases" in result.output


def test_the_focal_points_round(cli, initialised, tmp_path, manifest_for):
    vault, public = initialised
    desks = desks_from(public)
    alice, bob = Submitter.new(), Submitter.new()
    report = alice.report(desks, text="Detained at the airport\non return.", country="AX",
                          attachments=[("scan.pdf", b"%PDF-1.7 evidence")])
    bundle = (
        InboundBundle()
        .add_report(alice.case_id, report)
        .add_report(bob.case_id, bob.report(desks, country="BO"))
        .add_followup(alice.case_id, 1, alice.followup(desks, text="They returned."))
    )
    inbound = bundle.write(tmp_path / "in.qlb")

    result = cli("ws", "--vault", vault, "import", inbound)
    assert result.exit_code == 0, result.output
    assert "reports: 2 new" in result.output and "attachments: 1 new" in result.output

    result = cli("ws", "--vault", vault, "cases")
    assert result.exit_code == 0, result.output
    assert alice.case_id[:8] in result.output and bob.case_id[:8] in result.output
    assert alice.case_id not in result.output  # the short id only
    assert "AX" in result.output and "BO" in result.output and "new" in result.output

    result = cli("ws", "--vault", vault, "show", alice.case_id[:6])
    assert result.exit_code == 0, result.output
    for text in ("Detained at the airport", "on return.", "country: AX", "scan.pdf", "17 B", "follow-up 1", "They returned."):
        assert text in result.output

    result = cli("ws", "--vault", vault, "reply", alice.case_id[:6], "--status", "assessing", "--message", "We are on it.")
    assert result.exit_code == 0, result.output
    result = cli("ws", "--vault", vault, "cases")
    assert "assessing" in result.output
    assert "We are on it." in cli("ws", "--vault", vault, "show", alice.case_id).output

    out = tmp_path / "out.qlb"
    result = cli("ws", "--vault", vault, "export", "--out", out)
    assert result.exit_code == 0, result.output
    manifest = manifest_for(desks)
    with open(out, "rb") as f:
        outbound = read_bundle(f, OUTBOUND, manifest)
        [entry] = outbound.header["replies"]
        blob = outbound.read_blob(f, entry["blob"])
    reply = open_reply(blob, manifest, alice.keys.reply_public, alice.keys.reply_secret, alice.case_id)
    assert (reply.status, reply.text, reply.seq) == ("assessing", "We are on it.", 1)


@pytest.fixture
def manifest_for():
    from nacl.bindings import crypto_sign_keypair

    from crypto.manifest import Manifest, sign_manifest, verify_manifest

    def make(desks):
        pk, sk = crypto_sign_keypair()
        return verify_manifest(sign_manifest(Manifest("Org", "2026-11-20", desks), sk), pk)

    return make


HOSTILE_NAMES = [
    "../../escaped.txt",
    "/etc/passwd",
    "..\\..\\windows.txt",
    "..",
    ".bashrc",
    "",
    "CON.txt",
    "evil\x1b]0;pwned\x07.txt",
    "a/b/../../../c.sh",
    "photo.jpg",
    "photo.jpg",
    "имя файла.doc",
    "x" * 400 + ".png",
]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("../../escaped.txt", "escaped.txt"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\windows.txt", "windows.txt"),
        ("..", "attachment"),
        (".bashrc", "bashrc"),
        ("", "attachment"),
        ("CON.txt", "_CON.txt"),
        ("nul", "_nul"),
        ("evil\x1b]0;pwned\x07.txt", "evil_0_pwned_.txt"),
        ("a\u202eexe.txt", "a_exe.txt"),
        ("имя файла.doc", "имя файла.doc"),
        ("报告.pdf", "报告.pdf"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_safe_filename_bounds_length():
    name = safe_filename("é" * 400 + ".png")
    assert name.endswith(".png") and len(name.encode()) <= 180


def test_show_extract_keeps_hostile_names_inside_the_directory(cli, initialised, tmp_path):
    vault, public = initialised
    desks = desks_from(public)
    alice = Submitter.new()
    files = [(name, f"content {i}".encode()) for i, name in enumerate(HOSTILE_NAMES)]
    report = alice.report(desks, attachments=files)
    import_result = cli("ws", "--vault", vault, "import", InboundBundle().add_report(alice.case_id, report).write(tmp_path / "in.qlb"))
    assert import_result.exit_code == 0, import_result.output

    target = tmp_path / "work" / "extracted"
    (target).mkdir(parents=True)
    (target / "photo.jpg").write_bytes(b"already here")  # never overwritten
    result = cli("ws", "--vault", vault, "show", alice.case_id[:8], "--extract", target)
    assert result.exit_code == 0, result.output
    assert f"{len(files)} attachments written" in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output

    written = sorted(p for p in target.iterdir())
    assert len(written) == len(files) + 1
    assert (target / "photo.jpg").read_bytes() == b"already here"
    contents = sorted(p.read_bytes() for p in written if p.read_bytes() != b"already here")
    assert contents == sorted(data for _, data in files)
    for p in written:
        assert p.parent == target and not p.name.startswith(".") and p.is_file() and not p.is_symlink()
    # Nothing anywhere else in the test's directory tree but what belongs there.
    stray = [p for p in tmp_path.rglob("*") if p.is_file() and target not in p.parents and p.parent != tmp_path and "vault" not in p.parts]
    assert stray == []
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "work" / "escaped.txt").exists()


def test_submitter_text_cannot_drive_the_terminal_or_rich_markup(cli, initialised, tmp_path):
    vault, public = initialised
    alice = Submitter.new()
    report = alice.report(desks_from(public), text="before\x1b[2J\x1b[31mafter [bold red]markup[/]", extra={"place": "[link=x]C[/link]"})
    cli("ws", "--vault", vault, "import", InboundBundle().add_report(alice.case_id, report).write(tmp_path / "in.qlb"))
    for args in (("cases",), ("show", alice.case_id[:8])):
        result = cli("ws", "--vault", vault, *args)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output
    shown = cli("ws", "--vault", vault, "show", alice.case_id[:8]).output
    assert "\\x1b[2J" in shown and "[bold red]markup[/]" in shown and "[link=x]C[/link]" in shown


def test_errors_are_one_line(cli, initialised, tmp_path, monkeypatch):
    vault, public = initialised
    desks = desks_from(public)
    one, two = Submitter.new(), Submitter.new()
    cli("ws", "--vault", vault, "import",
        InboundBundle().add_report(one.case_id, one.report(desks)).add_report(two.case_id, two.report(desks)).write(tmp_path / "in.qlb"))

    assert_one_line_error(cli("ws", "--vault", tmp_path / "nowhere", "cases"), "no vault")
    assert_one_line_error(cli("ws", "--vault", vault, "show", "zz"), "bad_case_id")
    assert_one_line_error(cli("ws", "--vault", vault, "show", "ffffffff"), "unknown_case")
    common = os.path.commonprefix([one.case_id, two.case_id])
    if len(common) >= 4:  # rarely true for random ids; the ambiguity path is then checked too
        assert_one_line_error(cli("ws", "--vault", vault, "show", common), "ambiguous_case")
    assert_one_line_error(
        cli("ws", "--vault", vault, "reply", one.case_id, "--status", "solved", "--message", "x"), "solved", exit_code=2
    )
    assert_one_line_error(cli("ws", "--vault", vault, "reply", one.case_id, "--status", "closed"), "--message", exit_code=2)
    assert_one_line_error(cli("ws", "--vault", vault, "frobnicate"), "frobnicate", exit_code=2)

    not_a_bundle = tmp_path / "notes.txt"
    not_a_bundle.write_text("hello")
    assert_one_line_error(cli("ws", "--vault", vault, "import", not_a_bundle), "bad_bundle")
    damaged = tmp_path / "damaged.qlb"
    raw = bytearray((InboundBundle().add_report(one.case_id, one.report(desks)).write(damaged)).read_bytes())
    raw[-40] ^= 1
    damaged.write_bytes(bytes(raw))
    assert_one_line_error(cli("ws", "--vault", vault, "import", damaged), "bundle_corrupted")
    assert_one_line_error(cli("ws", "--vault", vault, "import", tmp_path / "missing.qlb"), "does not exist", exit_code=2)

    cli("ws", "--vault", vault, "reply", one.case_id, "--status", "received", "--message", "hi")
    existing = tmp_path / "exists.qlb"
    existing.write_bytes(b"x")
    assert_one_line_error(cli("ws", "--vault", vault, "export", "--out", existing), "exists")

    monkeypatch.setenv("QUIETLINE_VAULT_PASSPHRASE", PASSPHRASE + "x")
    assert_one_line_error(cli("ws", "--vault", vault, "cases"), "wrong passphrase")
    monkeypatch.setenv("QUIETLINE_VAULT", str(vault))
    assert_one_line_error(cli("ws", "cases"), "wrong_passphrase")


def test_show_keeps_long_lines_whole(cli, initialised, tmp_path):
    vault, public = initialised
    alice = Submitter.new()
    account = " ".join(f"word{i}" for i in range(200))
    cli("ws", "--vault", vault, "import",
        InboundBundle().add_report(alice.case_id, alice.report(desks_from(public), text=account)).write(tmp_path / "in.qlb"))
    assert account in cli("ws", "--vault", vault, "show", alice.case_id[:8]).output
