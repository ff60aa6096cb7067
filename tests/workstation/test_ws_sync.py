"""`quietline sync` against the real server (server.app.create_app under uvicorn on a
loopback port), in the deployment `keys dev` makes: a submitter files a case over HTTP,
the desk pulls, imports, replies, exports and pushes, and the submitter reads the reply."""

import json
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from crypto import pow as pw
from crypto.bundle import INBOUND, read_bundle
from crypto.encoding import b64decode, b64encode
from crypto.manifest import DeskPublic, verify_manifest
from crypto.reply import open_reply
from server.app import create_app
from server.settings import Settings
from server.storage.migrate import upgrade
from workstation.keys_cli import DEV_PASSPHRASE
from ws_helpers import Submitter, assert_one_line_error


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Deployment:
    def __init__(self, root, cli, port):
        self.root = root
        self.keys_dir, self.var_dir = root / "keys", root / "var"
        self.url = f"http://127.0.0.1:{port}"
        result = cli("keys", "dev", "--keys-dir", self.keys_dir, "--var-dir", self.var_dir, "--server", self.url)
        assert result.exit_code == 0, result.output
        self.config = self.var_dir / "sync.json"
        self.vault = self.var_dir / "vault"
        self.root_pk = b64decode(json.loads((self.keys_dir / "deployment.json").read_text())["root_pk"])
        self.manifest = verify_manifest((self.keys_dir / "manifest.json").read_bytes(), self.root_pk)
        self.desks: tuple[DeskPublic, ...] = self.manifest.desks


@pytest.fixture
def deployment(tmp_path, cli, monkeypatch):
    """`keys dev` output served by the real app on a loopback port."""
    port = free_port()
    dep = Deployment(tmp_path, cli, port)
    client_dir = tmp_path / "client"
    client_dir.mkdir()
    (client_dir / "index.html").write_text("<!doctype html><title>Quietline</title>")
    database_url = f"sqlite:///{dep.var_dir / 'quietline.db'}"
    upgrade(database_url)
    settings = Settings(
        database_url=database_url,
        blob_dir=dep.var_dir / "blobs",
        manifest=dep.keys_dir / "manifest.json",
        deployment=dep.keys_dir / "deployment.json",
        desk_tokens=dep.var_dir / "desk-tokens.json",
        client_dir=client_dir,
        pow_key_file=dep.var_dir / "pow.key",
        pow_bits=4,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    monkeypatch.setenv("QUIETLINE_VAULT_PASSPHRASE", DEV_PASSPHRASE)
    monkeypatch.setenv("QUIETLINE_VAULT", str(dep.vault))
    monkeypatch.setenv("QUIETLINE_SYNC_CONFIG", str(dep.config))
    yield dep
    server.should_exit = True
    thread.join(timeout=20)


def prove(http: httpx.Client, purpose: str, binding: bytes) -> dict:
    """A proof of work, as the browser makes it (docs/PROTOCOL.md, "Proof of work")."""
    challenge = http.get("/api/v1/pow", params={"purpose": purpose}).json()["challenge"]
    return {"challenge": challenge, "nonce": pw.solve(b64decode(challenge), binding)}


def file_report(dep: Deployment, submitter: Submitter, text: str, evidence: bytes) -> None:
    """What the browser does: upload the sealed attachment chunk by chunk, then the report."""
    with httpx.Client(base_url=dep.url) as http:
        upload = submitter.upload("evidence.jpg", evidence, "image/jpeg")
        proof = prove(http, "upload", pw.NO_RESUME)
        created = http.post("/api/v1/uploads", json={"chunks": len(upload.chunks), "proof": proof})
        assert created.status_code == 201, created.text
        upload = submitter.upload("evidence.jpg", evidence, "image/jpeg", upload_id=created.json()["upload_id"])
        for index, chunk in enumerate(upload.chunks):
            put = http.put(f"/api/v1/uploads/{upload.upload_id}/chunks/{index}", content=chunk)
            assert put.status_code == 204, put.text
        report = submitter.report(dep.desks, text=text, uploads=[upload])
        filed = http.post(
            "/api/v1/cases",
            json={"lookup": b64encode(submitter.keys.lookup), "envelope": b64encode(report.envelope), "uploads": [upload.upload_id],
                  "proof": prove(http, "report", pw.report_binding(submitter.case_id))},
        )
        assert filed.status_code == 201, filed.text
        assert filed.json()["case_id"] == submitter.case_id


def lookup(dep: Deployment, submitter: Submitter) -> dict:
    with httpx.Client(base_url=dep.url) as http:
        response = http.post("/api/v1/cases/lookup", json={"lookup": b64encode(submitter.keys.lookup)})
    assert response.status_code == 200, response.text
    return response.json()


def test_round_trip_through_the_real_server(deployment, cli, tmp_path):
    dep = deployment
    alice = Submitter.new()
    evidence = b"\xff\xd8 a photo of the summons " * 20000  # 3 chunks
    file_report(dep, alice, "Summoned by the police after speaking at the session.", evidence)

    inbound = tmp_path / "in.qlb"
    result = cli("sync", "pull", "--out", inbound)
    assert result.exit_code == 0, result.output
    assert "1 report(s)" in result.output and "1 attachment(s)" in result.output
    with open(inbound, "rb") as f:
        assert read_bundle(f, INBOUND).header["confirmed_outbound"] == []

    result = cli("ws", "import", inbound)
    assert result.exit_code == 0, result.output
    assert "reports: 1 new" in result.output and "attachments: 1 new" in result.output and "REFUSED" not in result.output
    extracted = tmp_path / "extracted"
    assert cli("ws", "show", alice.case_id[:8], "--extract", extracted).exit_code == 0
    assert (extracted / "evidence.jpg").read_bytes() == evidence

    result = cli("ws", "reply", alice.case_id[:8], "--status", "received", "--message", "We have your report and will be in touch.")
    assert result.exit_code == 0, result.output
    outbound = tmp_path / "out.qlb"
    assert cli("ws", "export", "--out", outbound).exit_code == 0

    result = cli("sync", "push", outbound)
    assert result.exit_code == 0, result.output
    assert "1 reply(ies) stored" in result.output and "2 acknowledgement(s) applied" in result.output

    # The submitter, with only the case key, reads the desk's signed reply.
    status = lookup(dep, alice)
    [entry] = status["replies"]
    reply = open_reply(b64decode(entry["blob"]), dep.manifest, alice.keys.reply_public, alice.keys.reply_secret, alice.case_id)
    assert (reply.seq, reply.status, reply.text) == (1, "received", "We have your report and will be in touch.")

    # The same bundle again is refused by the server, in one line with its code.
    assert_one_line_error(cli("sync", "push", outbound), "409", "bundle_replayed")

    # The next pull confirms the bundle and carries nothing already acknowledged.
    second = tmp_path / "in2.qlb"
    result = cli("sync", "pull", "--out", second)
    assert result.exit_code == 0, result.output
    assert "0 report(s)" in result.output and "1 outbound bundle(s) confirmed" in result.output
    result = cli("ws", "import", second)
    assert "outbound bundles confirmed by the server: 1" in result.output
    result = cli("ws", "export", "--out", tmp_path / "out2.qlb")
    assert result.exit_code == 0 and "nothing to export" in result.output


def test_sync_failures_are_one_line(deployment, cli, tmp_path):
    dep = deployment
    config = json.loads(dep.config.read_text())
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**config, "token": "A" * 43}))
    line = assert_one_line_error(cli("sync", "--config", wrong, "pull", "--out", tmp_path / "x.qlb"), "401", "unauthorized")
    assert config["token"] not in line
    assert not (tmp_path / "x.qlb").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    down = tmp_path / "down.json"
    down.write_text(json.dumps({**config, "server": f"http://127.0.0.1:{free_port()}"}))
    assert_one_line_error(cli("sync", "--config", down, "pull", "--out", tmp_path / "y.qlb"), "cannot reach")

    existing = tmp_path / "exists.qlb"
    existing.write_bytes(b"keep me")
    assert_one_line_error(cli("sync", "pull", "--out", existing), "refusing to overwrite")
    assert existing.read_bytes() == b"keep me"

    assert_one_line_error(cli("sync", "push", existing), "not an outbound bundle")
    forged = tmp_path / "forged.qlb"
    forged.write_bytes(b"QLBUNDLE\x01O" + b"\x00" * 40)
    assert_one_line_error(cli("sync", "push", forged), "400")
    assert_one_line_error(cli("sync", "--config", tmp_path / "none.json", "pull", "--out", tmp_path / "z.qlb"), "cannot read sync config")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"server": "ftp://x", "desk": "desk-1", "token": "t"}))
    assert_one_line_error(cli("sync", "--config", bad, "pull", "--out", tmp_path / "z.qlb"), "http(s)")
