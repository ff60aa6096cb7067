"""What the server benchmarks share (bench/intake.py, status.py, attachments.py,
workstation.py, load.py): a real `quietline serve` process on a free loopback port with
development keys made by the CLI (as tests/e2e/conftest.py does), on SQLite or on a
throwaway PostgreSQL cluster (tests/api/pgcluster.py, the tests' own helper); real proving
submitters (tests/api/support.py); percentiles; and the rewrite of one marked section of
docs/BENCHMARKS.md.

Proof of work is set to QUIETLINE_POW_BITS (4 by default here, also the maximum, so load
never raises it): its cost is measured on its own by bench/pow_cost.py, and these benchmarks
measure the server."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crypto.encoding import b64decode, b64encode  # noqa: E402
from crypto.manifest import verify_manifest  # noqa: E402
from tests.api.support import Submitter, pow_binding, prove  # noqa: E402

QUIETLINE = str(Path(sys.executable).with_name("quietline"))
BENCH_POW_BITS = 4


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"{url} did not come up:\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the process's peak resident memory so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


class Postgres:
    """The tests' throwaway cluster (Unix socket only, durability off), one database per use."""

    def __init__(self) -> None:
        from tests.api.pgcluster import start_cluster

        self.cluster = start_cluster()
        self._n = 0

    def database(self) -> str:
        from sqlalchemy import create_engine, text

        self._n += 1
        name = f"qlbench_{os.getpid()}_{self._n}"
        admin = create_engine(self.cluster.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        return self.cluster.url(name)

    def stop(self) -> None:
        self.cluster.stop()


def postgres_or_reason() -> tuple[Postgres | None, str]:
    from tests.api.pgcluster import ClusterUnavailable, missing_tools

    reason = missing_tools()
    if reason:
        return None, reason
    try:
        return Postgres(), ""
    except ClusterUnavailable as exc:
        return None, str(exc)


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen
    env: dict
    work: Path
    desks: tuple = field(default=())

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        stop(self.process)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([QUIETLINE, *args], env=self.env, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0:
            raise SystemExit(f"quietline {' '.join(args)} failed: {done.stderr}{done.stdout}")
        return done


def server_env(work: Path, database_url: str | None, pow_bits: int = BENCH_POW_BITS) -> dict:
    keys_dir, var_dir = work / "keys", work / "var"
    return dict(
        os.environ,
        QUIETLINE_DATABASE_URL=database_url or f"sqlite:///{var_dir / 'quietline.db'}",
        QUIETLINE_BLOB_DIR=str(var_dir / "blobs"),
        QUIETLINE_MANIFEST=str(keys_dir / "manifest.json"),
        QUIETLINE_DEPLOYMENT=str(keys_dir / "deployment.json"),
        QUIETLINE_DESK_TOKENS=str(var_dir / "desk-tokens.json"),
        QUIETLINE_CLIENT_DIR=str(ROOT / "client_web"),
        QUIETLINE_VAULT=str(var_dir / "vault"),
        QUIETLINE_VAULT_PASSPHRASE="quietline-dev",
        QUIETLINE_SYNC_CONFIG=str(var_dir / "sync.json"),
        QUIETLINE_POW_KEY_FILE=str(var_dir / "pow.key"),
        QUIETLINE_POW_BITS=str(pow_bits),
        QUIETLINE_POW_MAX_BITS=str(pow_bits),
    )


def start_server(work: Path, database_url: str | None = None, extra_env: dict | None = None) -> Server:
    """Development keys, then `quietline serve` (it migrates the database first)."""
    work.mkdir(parents=True, exist_ok=True)
    env = {**server_env(work, database_url), **(extra_env or {})}
    keys_dir, var_dir = work / "keys", work / "var"
    made = subprocess.run(
        [QUIETLINE, "keys", "dev", "--keys-dir", str(keys_dir), "--var-dir", str(var_dir)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    if made.returncode != 0:
        raise SystemExit(f"quietline keys dev failed: {made.stderr}{made.stdout}")
    port = free_port()
    sync = json.loads((var_dir / "sync.json").read_text())
    sync["server"] = f"http://127.0.0.1:{port}"
    (var_dir / "sync.json").write_text(json.dumps(sync))
    log = work / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [QUIETLINE, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    base_url = f"http://127.0.0.1:{port}"
    wait_up(base_url + "/api/v1/manifest", process, log)
    deployment = json.loads((keys_dir / "deployment.json").read_text())
    manifest = verify_manifest((keys_dir / "manifest.json").read_bytes(), b64decode(deployment["root_pk"]))
    return Server(base_url, process, env, work, manifest.desks)


@dataclass
class Submission:
    """A report sealed ahead of time, so the timed part is the request alone."""

    submitter: Submitter
    body: dict

    @classmethod
    def make(cls, desks, attachments=(), uploads=()) -> "Submission":
        s = Submitter()
        env = s.report(desks, list(attachments))
        return cls(s, {"lookup": s.lookup, "envelope": b64encode(env), "uploads": list(uploads)})

    def proven(self, client: httpx.Client) -> dict:
        return {**self.body, "proof": prove(client, "report", pow_binding("report", self.body))}


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values, fmt="{:.2f}") -> str:
    return f"{fmt.format(median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def today() -> str:
    return dt.date.today().isoformat()


def cpus() -> int:
    return os.cpu_count() or 0


def write_section(path: Path, name: str, heading: str, section_lines: list[str]) -> None:
    """Replace this script's own section (between its markers) in `path`, or append it under
    `heading` at the end."""
    start = f"<!-- generated by bench/{name}"
    end = f"<!-- end of {name} section -->"
    section = "\n".join([f"{start} (make bench); edits between these markers are overwritten -->", *section_lines, end]) + "\n"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    if start in text and end in text:
        before = text[: text.index(start)]
        after = text[text.index(end) + len(end):].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n" + section
    path.write_text(text, encoding="utf-8")
