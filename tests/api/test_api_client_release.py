"""Published client digests (`quietline client digests`) and `quietline client verify URL`
against a real server on a loopback port: a file changed on the server is named, and the
command exits 1."""

import socket
import threading
import time

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

from quietline_cli import main
from server.app import create_app
from server.client_release import release_of
from server.settings import REPO_ROOT

CLIENT = REPO_ROOT / "client_web"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served_client(settings, tmp_path):
    """A copy of the real client, served by the real app through uvicorn in a thread."""
    import shutil

    copy = tmp_path / "served-client"
    shutil.copytree(CLIENT, copy, ignore=shutil.ignore_patterns("node_modules"))
    app = create_app(settings.model_copy(update={"client_dir": copy}))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/deployment.json").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)
    try:
        yield base, copy
    finally:
        server.should_exit = True
        thread.join(10)


def test_digests_cover_every_served_file_and_nothing_hidden():
    release = release_of(CLIENT)
    paths = {f.path for f in release.files}
    assert {"/index.html", "/js/app.js", "/css/app.css", "/i18n/ar.json", "/vendor/libsodium.js"} <= paths
    assert not any("node_modules" in p or "/." in p or p.endswith("package.json") or "/scripts/" in p for p in paths)
    result = CliRunner().invoke(main, ["client", "digests"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == release.digest and lines[-1].startswith("quietline-client-v1:")
    assert len(lines) == len(release.files) + 1


def test_the_digest_changes_when_any_file_changes(tmp_path):
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text("a")
    before = release_of(tmp_path).digest
    (tmp_path / "js" / "app.js").write_text("b")
    assert release_of(tmp_path).digest != before


def test_verify_passes_on_the_published_client_and_names_a_changed_file(served_client):
    base, copy = served_client
    ok = CliRunner().invoke(main, ["client", "verify", base, "--dir", str(copy)])
    assert ok.exit_code == 0, ok.output
    assert "match" in ok.output

    # The server now serves a different app.js (what a compromised host would do).
    (copy / "js" / "app.js").write_text((copy / "js" / "app.js").read_text() + "\n// injected\n")
    bad = CliRunner().invoke(main, ["client", "verify", base, "--dir", str(CLIENT)])
    assert bad.exit_code == 1
    assert "/js/app.js: differs" in bad.output
    assert "/js/casekey.js" not in bad.output  # only what differs is named


def test_verify_of_an_unreachable_server_fails_with_one_line_per_file():
    port = free_port()  # nothing listens here
    result = CliRunner().invoke(main, ["client", "verify", f"http://127.0.0.1:{port}", "--timeout", "2"])
    assert result.exit_code == 1
    assert "/index.html: unreachable" in result.output
