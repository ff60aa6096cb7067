"""`quietline serve` (server.cli.serve) in a real process on a loopback port: it migrates a
fresh database itself, answers, and never writes a client address or user agent to its
output, whatever the request (including 404, 422 and 401 answers and a forged
X-Forwarded-For), and, for real 500s (a broken blob store, tables gone from under it), no
lookup token, identifier or request body either: only the exception's type and place."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from crypto.attachment import CHUNK_CIPHERTEXT
from crypto.encoding import b64encode
from server.settings import REPO_ROOT

from .support import ProvingHttpClient, Submitter

USER_AGENT = "QuietlineProbe/9.9 (marker-ua-5f1c2e)"
FORWARDED = "203.0.113.77"
BODY_MARKER = b"BODY-MARKER-9d4a1b-"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_logs_no_client_address_or_user_agent(env, org, tmp_path, blank_database_url):
    served = blank_database_url  # not migrated: serve must do it
    sqlite = served.startswith("sqlite")
    port = free_port()
    environment = dict(
        os.environ,
        QUIETLINE_DATABASE_URL=served,
        QUIETLINE_BLOB_DIR=str(env.blob_dir),
        QUIETLINE_MANIFEST=str(env.manifest_path),
        QUIETLINE_DEPLOYMENT=str(env.deployment_path),
        QUIETLINE_DESK_TOKENS=str(env.tokens_path),
        QUIETLINE_CLIENT_DIR=str(env.client_dir),
        QUIETLINE_POW_KEY_FILE=str(tmp_path / "pow.key"),
        QUIETLINE_POW_BITS="4",
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
        with ProvingHttpClient(base_url=base, headers=headers, timeout=10) as http:
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

            # Real faults, 500 internal_error each, on requests full of request data.
            # 1. The blob store's uploads folder is replaced by a file: storing a chunk fails
            #    (as root, so not by permissions) with an OSError naming the upload's path.
            upload_id = http.post("/api/v1/uploads", json={"chunks": 1}).json()["upload_id"]
            shutil.rmtree(env.blob_dir / "uploads")
            (env.blob_dir / "uploads").write_bytes(b"not a folder")
            chunk = (BODY_MARKER * (CHUNK_CIPHERTEXT // len(BODY_MARKER) + 1))[:CHUNK_CIPHERTEXT]
            faults = [http.put(f"/api/v1/uploads/{upload_id}/chunks/0", content=chunk)]
            # 2. Tables vanish under the running server: a lookup and a report intake fail
            #    in SQL whose parameters hold the case id, the upload id and the envelope.
            engine = create_engine(served, poolclass=NullPool)
            with engine.begin() as db:
                db.execute(text("DROP TABLE replies"))
                db.execute(text("DROP TABLE upload_chunks"))
            engine.dispose()
            faults.append(http.post("/api/v1/cases/lookup", json={"lookup": s.lookup}))
            other = Submitter()
            envelope_b64 = b64encode(other.report([org.desks["desk-1"]]))
            faults.append(http.post("/api/v1/cases", json={"lookup": other.lookup, "envelope": envelope_b64, "uploads": [upload_id]}))
        for fault in faults:
            assert fault.status_code == 500, fault.text
            assert fault.json() == {"error": {"code": "internal_error", "message": "internal server error"}}
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
    # The faults were logged (type and place only) ...
    assert output.count("internal error: ") == 3, output
    # (SQLite: no such table, an OperationalError; PostgreSQL: an undefined table, a ProgrammingError.)
    assert "NotADirectoryError" in output and ("OperationalError" if sqlite else "ProgrammingError") in output, output
    assert "(from " + str(REPO_ROOT / "server" / "storage" / "blobs.py") in output, output  # where in our code
    # ... and nothing of the requests behind them: no lookup token, no case or upload id
    # (exception messages and SQL parameters stay out), no body bytes.
    for lookup in (s.lookup, other.lookup):
        assert lookup not in output and lookup[:16] not in output, output
    assert s.case_id not in output and other.case_id not in output, output
    assert upload_id not in output, output
    assert BODY_MARKER.decode() not in output and envelope_b64[:24] not in output, output
    assert "[SQL:" not in output and "no such table" not in output and "does not exist" not in output, output
    assert json.loads(env.deployment_path.read_text())["org"] == "Test Organisation"
    assert not sqlite or Path(make_url(served).database).exists()
