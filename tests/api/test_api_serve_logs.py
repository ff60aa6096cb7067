"""`quietline serve` (server.cli.serve) in a real process on a loopback port: it migrates a
fresh database itself, answers, and never writes a client address or user agent to its
output, whatever the request (including 404, 422 and 401 answers and a forged
X-Forwarded-For)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx

from crypto.encoding import b64encode
from server.settings import REPO_ROOT

from .support import Submitter

USER_AGENT = "QuietlineProbe/9.9 (marker-ua-5f1c2e)"
FORWARDED = "203.0.113.77"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_logs_no_client_address_or_user_agent(env, org, tmp_path):
    db_path = tmp_path / "served.db"  # not migrated: serve must do it
    port = free_port()
    environment = dict(
        os.environ,
        QUIETLINE_DATABASE_URL=f"sqlite:///{db_path}",
        QUIETLINE_BLOB_DIR=str(env.blob_dir),
        QUIETLINE_MANIFEST=str(env.manifest_path),
        QUIETLINE_DEPLOYMENT=str(env.deployment_path),
        QUIETLINE_DESK_TOKENS=str(env.tokens_path),
        QUIETLINE_CLIENT_DIR=str(env.client_dir),
        PYTHONUNBUFFERED="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"User-Agent": USER_AGENT, "X-Forwarded-For": FORWARDED, "X-Real-IP": FORWARDED}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get("/deployment.json").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, "server exited early"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)

            s = Submitter()
            results = {
                "index": http.get("/").status_code,
                "missing": http.get("/no/such/page").status_code,
                "api_missing": http.get("/api/v1/nothing").status_code,
                "malformed": http.post("/api/v1/uploads", content=b"{", headers={"Content-Type": "application/json"}).status_code,
                "bad_lookup": http.post("/api/v1/cases/lookup", json={"lookup": "x"}).status_code,
                "unknown_case": http.post("/api/v1/cases/lookup", json={"lookup": s.lookup}).status_code,
                "report": http.post(
                    "/api/v1/cases", json={"lookup": s.lookup, "envelope": b64encode(s.report([org.desks["desk-1"]]))}
                ).status_code,
                "no_token": http.get("/api/v1/desk/inbound").status_code,
                "inbound": http.get("/api/v1/desk/inbound", headers=org.auth()).status_code,
                "bad_chunk": http.put("/api/v1/uploads/" + "0" * 32 + "/chunks/0", content=b"x").status_code,
            }
            first = http.get("/deployment.json")
        assert results == {
            "index": 200,
            "missing": 404,
            "api_missing": 404,
            "malformed": 422,
            "bad_lookup": 400,
            "unknown_case": 200,  # a lookup answers alike for every case, known or not
            "report": 201,
            "no_token": 401,
            "inbound": 200,
            "bad_chunk": 404,
        }
        assert "server" not in first.headers and "date" not in first.headers
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()

    output = (stdout + stderr).decode("utf-8", "replace")
    # The capture works: uvicorn's lifecycle lines are there ...
    assert "Application startup complete" in output, output
    assert "Shutting down" in output or "Finished server process" in output, output
    # ... and no address, user agent or forwarded address is.
    assert "127.0.0.1" not in output, output
    assert USER_AGENT not in output and "marker-ua" not in output, output
    assert FORWARDED not in output, output
    assert "GET /" not in output and "POST /" not in output, output
    assert json.loads(env.deployment_path.read_text())["org"] == "Test Organisation"
    assert db_path.exists()
