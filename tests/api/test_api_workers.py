"""Three real `quietline serve` processes share one PostgreSQL database (started at once on
an empty one, so they migrate it together), one proof-of-work key file, one desk-token file
and one blob folder, as workers behind a load balancer would. Concurrent reports, uploads
whose chunks go to different workers, follow-ups to one case, and lookups are sent to all
of them, each proof of work fetched from another worker than the one it is spent on. Then:
no 5xx, every report answered 201 stored exactly once (and a case key sent to three workers
at once filed once), follow-up numbers 1..n without gaps or repeats, the per-case follow-up
limit and the unfiled-upload quota held across workers, and every worker sees it all."""

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from crypto.attachment import CHUNK_CIPHERTEXT
from crypto.encoding import b64encode
from server.settings import REPO_ROOT

from .support import Submitter, attachment, pow_binding, prove
from .test_api_serve_logs import free_port

pytestmark = pytest.mark.postgresql_only(reason="several processes share one database server; SQLite is one machine's file")

WORKERS = 3
FOLLOWUPS_PER_DAY = 7
UNFILED_CHUNKS = 10  # more than the reports' files that can be unfiled at one moment (8)


@dataclass
class Worker:
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def workers(env, blank_database_url, tmp_path):
    environment = dict(
        os.environ,
        QUIETLINE_DATABASE_URL=blank_database_url,  # not migrated: the workers do it, at once
        QUIETLINE_BLOB_DIR=str(env.blob_dir),
        QUIETLINE_MANIFEST=str(env.manifest_path),
        QUIETLINE_DEPLOYMENT=str(env.deployment_path),
        QUIETLINE_DESK_TOKENS=str(env.tokens_path),
        QUIETLINE_CLIENT_DIR=str(env.client_dir),
        QUIETLINE_POW_KEY_FILE=str(tmp_path / "shared" / "pow.key"),  # made by whichever starts first
        QUIETLINE_POW_BITS="6",
        QUIETLINE_POW_LOAD_PER_MINUTE=str(10**6),  # each worker's own load estimate stays at base
        QUIETLINE_FOLLOWUPS_PER_CASE_PER_DAY=str(FOLLOWUPS_PER_DAY),
        QUIETLINE_UNFILED_UPLOAD_QUOTA_BYTES=str(UNFILED_CHUNKS * CHUNK_CIPHERTEXT),
        PYTHONUNBUFFERED="1",
    )
    started = []
    try:
        for n in range(WORKERS):
            port, log = free_port(), tmp_path / f"worker-{n}.log"
            with log.open("wb") as out:
                process = subprocess.Popen([sys.executable, "-m", "server.cli", "--host", "127.0.0.1", "--port", str(port)],
                                           cwd=REPO_ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
            started.append(Worker(port, process, log))
        deadline = time.monotonic() + 90
        for worker in started:
            while True:
                try:
                    if httpx.get(f"{worker.url}/deployment.json", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert worker.process.poll() is None, f"a worker exited:\n{worker.log.read_text()}"
                assert time.monotonic() < deadline, f"a worker did not start:\n{worker.log.read_text()}"
                time.sleep(0.1)
        env.database_url = blank_database_url  # env.rows() and env.count() read the shared database
        yield started
    finally:
        for worker in started:
            worker.process.send_signal(signal.SIGINT)
        for worker in started:
            try:
                worker.process.wait(20)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        env.dispose()


class Balancer:
    """Sends each request to the next worker in turn, and fetches each proof of work from
    the worker after the one it is spent on."""

    def __init__(self, workers: list[Worker]):
        self.clients = [httpx.Client(base_url=w.url, timeout=60) for w in workers]
        self.turn = 0
        self.statuses: list[tuple[str, int]] = []

    def pick(self, n: int | None = None) -> tuple[httpx.Client, httpx.Client]:
        if n is None:
            n, self.turn = self.turn, self.turn + 1
        return self.clients[n % len(self.clients)], self.clients[(n + 1) % len(self.clients)]

    def post(self, path: str, body: dict, purpose: str | None = None, n: int | None = None) -> httpx.Response:
        client, prover = self.pick(n)
        if purpose:
            body = {**body, "proof": prove(prover, purpose, pow_binding(purpose, body))}
        response = client.post(path, json=body)
        self.statuses.append((path, response.status_code))
        return response

    def put(self, path: str, content: bytes, n: int | None = None) -> httpx.Response:
        client, _ = self.pick(n)
        response = client.put(path, content=content)
        self.statuses.append((path, response.status_code))
        return response

    def close(self) -> None:
        for c in self.clients:
            c.close()


def send_report(lb: Balancer, desk, n: int, with_file: bool) -> tuple[Submitter, bytes, str | None, int]:
    """One submitter's report (with a one-chunk file whose chunk goes to yet another worker):
    the submitter, the envelope, the upload id and the report's status."""
    s = Submitter()
    descriptors, upload_ids = [], []
    if with_file:
        att = attachment(100 + n, seed=n)
        created = lb.post("/api/v1/uploads", {"chunks": 1}, "upload", n=n)
        assert created.status_code == 201, created.text
        att.upload_id = created.json()["upload_id"]
        put = lb.put(f"/api/v1/uploads/{att.upload_id}/chunks/0", att.chunks[0], n=n + 1)
        assert put.status_code == 204, put.text
        descriptors, upload_ids = [att.descriptor()], [att.upload_id]
    sealed = s.report([desk], descriptors, text=f"report {n}")
    response = lb.post("/api/v1/cases", {"lookup": s.lookup, "envelope": b64encode(sealed), "uploads": upload_ids}, "report", n=n + 2)
    return s, sealed, (upload_ids or [None])[0], response.status_code


def test_three_workers_share_one_postgresql(workers, env, org):
    desk = org.desks["desk-1"]
    lb = Balancer(workers)
    try:
        with ThreadPoolExecutor(max_workers=9) as pool:
            # Reports, a third of them with a file, spread over the workers.
            reports = list(pool.map(lambda n: send_report(lb, desk, n, with_file=n % 3 == 0), range(24)))

            # One case key sent to every worker at once: filed exactly once.
            twin = Submitter()
            twin_envelope = b64encode(twin.report([desk], text="sent three times"))
            twins = list(pool.map(lambda n: lb.post("/api/v1/cases", {"lookup": twin.lookup, "envelope": twin_envelope}, "report", n=n),
                                  range(WORKERS)))

            # Follow-ups to one case from every worker at once, more than the daily limit.
            busy = reports[1][0]
            followups = [b64encode(busy.followup([desk], text=f"follow-up {i}")) for i in range(FOLLOWUPS_PER_DAY + 5)]
            answers = list(pool.map(lambda i: lb.post("/api/v1/cases/followups", {"lookup": busy.lookup, "envelope": followups[i]},
                                                      "followup", n=i), range(len(followups))))

            # Unfiled uploads from every worker at once, past the unfiled quota.
            created = list(pool.map(lambda n: lb.post("/api/v1/uploads", {"chunks": 1}, "upload", n=n).status_code,
                                    range(UNFILED_CHUNKS + 6)))

            # Every worker looks up every case.
            filed = [r for r in reports if r[3] == 201] + [(twin, None, None, 201)]
            lookups = list(pool.map(lambda job: (job[0], lb.post("/api/v1/cases/lookup", {"lookup": filed[job[1]][0].lookup}, n=job[0])),
                                    [(w, i) for w in range(WORKERS) for i in range(len(filed))]))
    finally:
        lb.close()

    errors = [(path, status) for path, status in lb.statuses if status >= 500 and status != 507]
    assert errors == []
    assert all(r[3] == 201 for r in reports), [r[3] for r in reports]
    assert sorted(r.status_code for r in twins) == [201] + [409] * (WORKERS - 1)
    assert all(r.json()["error"]["code"] == "case_exists" for r in twins if r.status_code == 409)

    # Every acknowledged report is stored exactly once, as it was sent, with its file.
    stored = {case_id: bytes(envelope) for case_id, _, envelope, _ in env.rows("cases")}
    assert len(stored) == len(env.rows("cases")) == len(reports) + 1
    assert all(stored[s.case_id] == sealed for s, sealed, _, _ in reports)
    uploads = {row[0]: row for row in env.rows("uploads")}
    for s, _, upload_id, _ in reports:
        if upload_id:
            assert uploads[upload_id][3] == s.case_id
    assert sum(1 for row in env.rows("upload_chunks")) == sum(1 for r in reports if r[2])

    # Follow-ups: exactly the daily limit filed, numbered 1..n, the rest refused with 429.
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * FOLLOWUPS_PER_DAY + [429] * 5
    assert all(a.json()["error"]["code"] == "followup_limit" for a in answers if a.status_code == 429)
    assert sorted(a.json()["seq"] for a in answers if a.status_code == 201) == list(range(1, FOLLOWUPS_PER_DAY + 1))
    assert [seq for case_id, seq, *_ in env.rows("followups") if case_id == busy.case_id] == list(range(1, FOLLOWUPS_PER_DAY + 1))

    # The unfiled-upload quota: exactly as many one-chunk uploads as it has room for.
    assert sorted(created) == [201] * UNFILED_CHUNKS + [507] * 6
    assert sum(1 for row in env.rows("uploads") if row[3] is None) == UNFILED_CHUNKS

    # Every worker finds every case, and the follow-ups of the busy one.
    assert all(r.status_code == 200 and r.json()["found"] for _, r in lookups)
    seen = {w: r.json()["followups"] for w, r in lookups if r.json()["case_id"] == busy.case_id}
    assert seen == dict.fromkeys(range(WORKERS), FOLLOWUPS_PER_DAY)
    for worker in workers:
        assert worker.process.poll() is None
        assert b"Traceback" not in worker.log.read_bytes()
