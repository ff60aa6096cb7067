"""A real `quietline serve` process (server.cli's `serve`, as tests/api/test_api_serve_logs.py
starts it) on a loopback port, over one deployment's files: started, killed with SIGKILL at
any moment and started again on the same files, its output kept across every run."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from crypto.encoding import b64encode
from server.settings import REPO_ROOT

POW_BITS = 2  # proofs stay real (ProvingHttpClient solves them) and cheap


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Deployment:
    """The files one server runs on: the organisation's deployment file, manifest and desk
    tokens (tests/api's `org`), the SQLite database and the blob folder."""

    root: Path
    database: Path
    blob_dir: Path
    extra_env: dict
    database_url: str = ""  # another database than the SQLite file (PostgreSQL)

    @classmethod
    def create(cls, root: Path, org, *, database: Path | None = None, blob_dir: Path | None = None,
               database_url: str = "", **settings: str) -> "Deployment":
        root.mkdir(parents=True, exist_ok=True)
        (root / "manifest.json").write_bytes(org.manifest_bytes)
        (root / "deployment.json").write_text(json.dumps({"v": 1, "org": "Test Organisation", "root_pk": b64encode(org.root_pk)}))
        (root / "desk-tokens.json").write_text(json.dumps({"desks": org.token_hashes}))
        client = root / "client"
        client.mkdir(exist_ok=True)
        (client / "index.html").write_text("<!doctype html><title>Quietline</title>")
        extra = {f"QUIETLINE_{name.upper()}": str(value) for name, value in settings.items()}
        return cls(root, database or root / "db" / "quietline.db", blob_dir or root / "blobs", extra, database_url)

    def environment(self) -> dict:
        return dict(
            os.environ,
            QUIETLINE_DATABASE_URL=self.database_url or f"sqlite:///{self.database}",
            QUIETLINE_BLOB_DIR=str(self.blob_dir),
            QUIETLINE_MANIFEST=str(self.root / "manifest.json"),
            QUIETLINE_DEPLOYMENT=str(self.root / "deployment.json"),
            QUIETLINE_DESK_TOKENS=str(self.root / "desk-tokens.json"),
            QUIETLINE_CLIENT_DIR=str(self.root / "client"),
            QUIETLINE_POW_KEY_FILE=str(self.root / "pow.key"),
            QUIETLINE_POW_BITS=str(POW_BITS),
            QUIETLINE_POW_LOAD_PER_MINUTE=str(10**9),
            PYTHONUNBUFFERED="1",
            **self.extra_env,
        )

    def integrity(self) -> list[str]:
        """SQLite's own checks of the database file, with no server running: every problem
        `PRAGMA integrity_check` and `PRAGMA foreign_key_check` find (empty when sound)."""
        with sqlite3.connect(f"file:{self.database}?mode=rw", uri=True) as db:
            checked = [row[0] for row in db.execute("PRAGMA integrity_check")]
            foreign = [repr(row) for row in db.execute("PRAGMA foreign_key_check")]
        db.close()
        return [line for line in checked if line != "ok"] + foreign

    def rows(self, sql: str) -> list[tuple]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            rows = db.execute(sql).fetchall()
        db.close()
        return rows


class Server:
    """One server at a time on `port`, over `deployment`, every run's output appended to `log`."""

    def __init__(self, deployment: Deployment, log: Path):
        self.deployment = deployment
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.kills = 0

    def start(self, timeout: float = 90) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=REPO_ROOT, env=self.deployment.environment(), stdout=log, stderr=subprocess.STDOUT,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.base_url}/api/v1/manifest", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited while starting:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"the server did not start within {timeout} s:\n{self.log()[-4000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no cleanup runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace") if self.log_path.exists() else ""

    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
