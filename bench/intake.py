"""Intake: reports per second and POST latency at 1, 10 and 50 concurrent submitters,
against a real `quietline serve` on loopback, on SQLite and on PostgreSQL (the tests'
throwaway cluster, tests/api/pgcluster.py, when its tools are installed).

The baseline, measured in the same run: a minimal ASGI app (in this file) that takes the
same JSON body, decodes the same envelope bytes and writes them in one transaction into a
one-table database of the same kind, through the server's own engine settings
(server.storage.db.make_engine: on SQLite WAL, synchronous=FULL, secure_delete), run in a
worker thread as FastAPI runs a sync route, served by uvicorn with the same settings as
`quietline serve`. Both servers run for the whole run; real and baseline alternate at each
level, run by run, so a noisy neighbour hits them alike.

Each report is sealed beforehand (real envelopes from tests/api/support.py's Submitter); the
real server also gets a fresh proof of work per report (QUIETLINE_POW_BITS=4, also the
maximum, so the difficulty never climbs; bench/pow_cost.py measures its cost). Latency is the
POST alone; reports per second count wall time including each challenge fetch, which only
the real server needs.

    .venv/bin/python bench/intake.py --write docs/BENCHMARKS.md
    .venv/bin/python bench/intake.py --quick --write docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchstack as bs  # noqa: E402

LEVELS = (1, 10, 50)


# -- the baseline server -----------------------------------------------------------------------

def baseline_app(database_url: str):
    import json

    import anyio
    from sqlalchemy import Column, Date, LargeBinary, MetaData, String, Table, insert

    from crypto.encoding import b64decode
    from server.storage.db import make_engine

    metadata = MetaData()
    reports = Table("reports", metadata, Column("lookup", String(44), primary_key=True), Column("day", Date),
                    Column("envelope", LargeBinary))
    engine = make_engine(database_url)
    metadata.create_all(engine)
    import datetime as dt

    def store(body: bytes) -> None:
        data = json.loads(body)
        envelope = b64decode(data["envelope"])
        with engine.begin() as conn:
            conn.execute(insert(reports).values(lookup=data["lookup"], day=dt.date.today(), envelope=envelope))

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "POST":
            await anyio.to_thread.run_sync(store, body)
            status, out = 201, b'{"ok":true}'
        else:
            status, out = 200, b"{}"
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": out})

    return app


def serve_baseline(database_url: str, port: int) -> None:
    import uvicorn

    from server.logging_config import LOGGING_CONFIG

    # The same uvicorn settings as server/cli.py's `quietline serve`.
    uvicorn.run(baseline_app(database_url), host="127.0.0.1", port=port, access_log=False, server_header=False,
                date_header=False, proxy_headers=False, forwarded_allow_ips="", log_config=LOGGING_CONFIG)


def start_baseline(work: Path, database_url: str) -> tuple[str, subprocess.Popen]:
    work.mkdir(parents=True, exist_ok=True)
    port = bs.free_port()
    log = work / "baseline.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, __file__, "--serve-baseline", database_url, "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, cwd=bs.ROOT)
    url = f"http://127.0.0.1:{port}"
    bs.wait_up(url + "/", process, log)
    return url, process


# -- the load ------------------------------------------------------------------------------------

def drive(base_url: str, path: str, submissions: list, concurrency: int, proving: bool) -> dict:
    """`concurrency` threads, each with its own connection, share the submissions."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    queue = list(reversed(submissions))

    def worker() -> None:
        with httpx.Client(base_url=base_url, timeout=120) as client:
            while True:
                with lock:
                    if not queue:
                        return
                    sub = queue.pop()
                body = sub.proven(client) if proving else sub.body
                t0 = time.perf_counter()
                response = client.post(path, json=body)
                elapsed = time.perf_counter() - t0
                with lock:
                    if response.status_code == 201:
                        latencies.append(elapsed)
                    else:
                        errors.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"rps": len(latencies) / wall, "p50": bs.pct(latencies, 50), "p99": bs.pct(latencies, 99),
            "errors": errors, "n": len(latencies)}


def measure(db_label: str, real: bs.Server, baseline_url: str, runs: int, reports: int) -> dict:
    out: dict = {}
    for level in LEVELS:
        rows = {"real": [], "base": []}
        for _ in range(runs):
            subs = [bs.Submission.make(real.desks) for _ in range(reports)]
            # Alternate which goes first, run by run.
            order = [("real", real.base_url, "/api/v1/cases", True), ("base", baseline_url, "/reports", False)]
            if len(rows["real"]) % 2:
                order.reverse()
            for name, url, path, proving in order:
                r = drive(url, path, subs, level, proving)
                if r["errors"]:
                    raise SystemExit(f"{db_label} {name} at {level}: {len(r['errors'])} errors, first: {r['errors'][0]}")
                rows[name].append(r)
            print(f"{db_label} c={level}: real {rows['real'][-1]['rps']:.0f}/s, baseline {rows['base'][-1]['rps']:.0f}/s",
                  flush=True)
        out[level] = rows
    return out


def render(results: dict, meta: dict) -> list[str]:
    lines = [
        f"Measured {meta['day']} by `{meta['command']}` ({meta['mode']}): {meta['runs']} runs of {meta['reports']} reports "
        f"per level and database, medians (min–max); {bs.cpus()} CPUs shared with other work (the client threads run on "
        f"the same 2 cores as the server). Proof of work at {bs.BENCH_POW_BITS} bits (its cost: \"Proof of work\"). "
        "Ratio = Quietline ÷ the baseline of the same run (for reports per second, below 1 is slower; for latency, above "
        "1 is slower).",
        "",
        "| database | submitters | Quietline reports/s | baseline reports/s | ratio | Quietline POST p50 / p99 | "
        "baseline p50 / p99 | p50 ratio | p99 ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for db_label, by_level in results.items():
        for level, rows in by_level.items():
            real, base = rows["real"], rows["base"]
            ms = lambda rs, k: bs.median([r[k] * 1000 for r in rs])  # noqa: E731
            lines.append(
                f"| {db_label} | {level} | {bs.spread([r['rps'] for r in real], '{:.0f}')} | "
                f"{bs.spread([r['rps'] for r in base], '{:.0f}')} | "
                f"{bs.median([a['rps'] / b['rps'] for a, b in zip(real, base)]):.2f} | "
                f"{ms(real, 'p50'):.1f} / {ms(real, 'p99'):.1f} ms | {ms(base, 'p50'):.1f} / {ms(base, 'p99'):.1f} ms | "
                f"{bs.median([a['p50'] / b['p50'] for a, b in zip(real, base)]):.2f} | "
                f"{bs.median([a['p99'] / b['p99'] for a, b in zip(real, base)]):.2f} |"
            )
    lines.append("")
    lines.append(f"Errors: none (any non-201 answer stops the run). {meta['pg_note']}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reports", type=int, default=1000, help="reports per level per run")
    parser.add_argument("--quick", action="store_true", help="3 runs of 150 reports per level")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--write", type=Path)
    parser.add_argument("--serve-baseline", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline, args.port)
        return
    if args.quick:
        args.runs, args.reports = 3, 150

    results: dict = {}
    pg, reason = (None, "not asked for (--no-postgres)") if args.no_postgres else bs.postgres_or_reason()
    with tempfile.TemporaryDirectory(prefix="ql-bench-intake-") as tmp:
        work = Path(tmp)
        try:
            targets = [("SQLite", None, f"sqlite:///{work / 'base-sqlite' / 'baseline.db'}")]
            if pg is not None:
                targets.append(("PostgreSQL", pg.database(), pg.database()))
            for label, real_url, base_url in targets:
                real = bs.start_server(work / f"real-{label}", real_url)
                base, base_process = start_baseline(work / f"base-{label.lower()}", base_url)
                try:
                    results[label] = measure(label, real, base, args.runs, args.reports)
                finally:
                    real.stop()
                    bs.stop(base_process)
        finally:
            if pg is not None:
                pg.stop()
    pg_note = ("PostgreSQL: the tests' throwaway cluster (tests/api/pgcluster.py: Unix socket, fsync and synchronous_commit "
               "off, for both servers alike), so its figures are not those of a durable production cluster."
               if pg is not None else f"PostgreSQL: not measured ({reason}).")
    meta = {"day": bs.today(), "command": "bench/intake.py " + " ".join(sys.argv[1:]), "runs": args.runs,
            "reports": args.reports, "mode": "quick mode" if args.quick else "full mode", "pg_note": pg_note}
    lines = render(results, meta)
    print("\n".join(lines))
    if args.write:
        bs.write_section(args.write, "intake.py", "## Intake: measured", lines)


if __name__ == "__main__":
    main()
