"""Status checks: lookup latency (POST /api/v1/cases/lookup through a real `quietline serve`
over loopback HTTP) with 100,000 stored cases, against the same with 100 (the baseline),
both servers running side by side and measured alternately, lookup by lookup.

The databases are filled directly with SQLAlchemy inserts of realistic rows, for speed: each
case has a report envelope of the size a real sealed report has (one is sealed here with the
deployment's desks and its length used; the bytes are random, which the server cannot tell
from ciphertext), and every tenth case a reply of a real sealed reply's size. Half the
lookups name a stored case, half an unknown one (the server answers both alike, padded).

    .venv/bin/python bench/status.py --write docs/BENCHMARKS.md
    .venv/bin/python bench/status.py --quick --write docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchstack as bs  # noqa: E402

from crypto.desk import DeskKeys  # noqa: E402
from crypto.encoding import b64encode  # noqa: E402
from crypto.kdf import case_id as case_id_of  # noqa: E402
from tests.api.support import Submitter, make_reply  # noqa: E402


def fill(database_url: str, cases: int, envelope_bytes: int, reply_bytes: int, rng: random.Random) -> list[bytes]:
    """Insert `cases` cases (every tenth with one reply); returns every stored lookup."""
    from sqlalchemy import insert

    from server.storage.db import make_engine
    from server.storage.models import Case, Reply

    engine = make_engine(database_url)
    today = dt.date.today()
    lookups: list[bytes] = []
    batch = 2000
    try:
        for start in range(0, cases, batch):
            rows, replies = [], []
            for i in range(start, min(cases, start + batch)):
                lookup = rng.randbytes(32)
                lookups.append(lookup)
                cid = case_id_of(lookup)
                rows.append({"case_id": cid, "created_day": today - dt.timedelta(days=i % 300),
                             "report_envelope": os.urandom(envelope_bytes), "expires_day": today + dt.timedelta(days=365)})
                if i % 10 == 0:
                    replies.append({"case_id": cid, "seq": 1, "blob": os.urandom(reply_bytes), "created_day": today,
                                    "expires_day": today + dt.timedelta(days=180)})
            with engine.begin() as conn:
                conn.execute(insert(Case), rows)
                if replies:
                    conn.execute(insert(Reply), replies)
    finally:
        engine.dispose()
    return lookups


def lookups_run(servers: dict, count: int, rng: random.Random) -> dict[str, list[float]]:
    """`count` lookups on each server, alternating between them lookup by lookup, so that a
    noisy neighbour hits both alike; one connection per server."""
    times: dict[str, list[float]] = {name: [] for name in servers}
    clients = {name: httpx.Client(base_url=url, timeout=60) for name, (url, _) in servers.items()}
    try:
        for i in range(count):
            for name, (_, stored) in servers.items():
                known = i % 2 == 0
                lookup = rng.choice(stored) if known else rng.randbytes(32)
                t0 = time.perf_counter()
                response = clients[name].post("/api/v1/cases/lookup", json={"lookup": b64encode(lookup)})
                times[name].append(time.perf_counter() - t0)
                if response.status_code != 200:
                    raise SystemExit(f"lookup answered {response.status_code}: {response.text[:200]}")
                if known != response.json()["found"]:
                    raise SystemExit("a stored case was not found, or an unknown one was")
    finally:
        for client in clients.values():
            client.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--baseline-cases", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lookups", type=int, default=1000, help="lookups per run and server")
    parser.add_argument("--quick", action="store_true", help="5 runs of 300 lookups (still 100,000 cases)")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.runs, args.lookups = 5, 300
    rng = random.Random(20261202)

    with tempfile.TemporaryDirectory(prefix="ql-bench-status-") as tmp:
        work = Path(tmp)
        big = bs.start_server(work / "big")
        small = bs.start_server(work / "small")
        try:
            desk = DeskKeys.generate("bench", "Bench desk")
            sub = Submitter()
            envelope_bytes = len(sub.report(big.desks))
            reply_bytes = len(make_reply(desk, sub, 1))
            t0 = time.perf_counter()
            stored_big = fill(big.env["QUIETLINE_DATABASE_URL"], args.cases, envelope_bytes, reply_bytes, rng)
            fill_s = time.perf_counter() - t0
            stored_small = fill(small.env["QUIETLINE_DATABASE_URL"], args.baseline_cases, envelope_bytes, reply_bytes, rng)
            print(f"filled {args.cases} cases in {fill_s:.0f} s", flush=True)
            servers = {"big": (big.base_url, stored_big), "small": (small.base_url, stored_small)}
            lookups_run(servers, 50, rng)  # warm-up, untimed
            runs = []
            for i in range(args.runs):
                r = lookups_run(servers if i % 2 == 0 else dict(reversed(servers.items())), args.lookups, rng)
                runs.append({k: {"p50": bs.pct(v, 50), "p99": bs.pct(v, 99)} for k, v in r.items()})
                print(f"run {i + 1}: " + ", ".join(f"{k} p50 {v['p50'] * 1000:.2f} ms p99 {v['p99'] * 1000:.2f} ms"
                                                  for k, v in runs[-1].items()), flush=True)
            db_size = Path(big.env["QUIETLINE_DATABASE_URL"].removeprefix("sqlite:///")).stat().st_size
        finally:
            big.stop()
            small.stop()

    ms = lambda k, q: [r[k][q] * 1000 for r in runs]  # noqa: E731
    ratio = lambda q: bs.median([r["big"][q] / r["small"][q] for r in runs])  # noqa: E731
    lines = [
        f"Measured {bs.today()} by `bench/status.py {' '.join(sys.argv[1:])}` ({'quick' if args.quick else 'full'} mode): "
        f"{args.runs} runs of {args.lookups} sequential lookups per server over loopback HTTP (one connection each, the "
        f"two servers alternating lookup by lookup; half of stored cases, half unknown), medians of the per-run percentiles (min–max); SQLite; {bs.cpus()} CPUs shared "
        f"with other work. Ratio = with {args.cases:,} cases ÷ with {args.baseline_cases:,} (the baseline), same run.",
        "",
        "| stored cases | lookup p50 | lookup p99 |",
        "|---|---|---|",
        f"| {args.baseline_cases:,} (baseline) | {bs.spread(ms('small', 'p50'))} ms | {bs.spread(ms('small', 'p99'))} ms |",
        f"| {args.cases:,} | {bs.spread(ms('big', 'p50'))} ms | {bs.spread(ms('big', 'p99'))} ms |",
        f"| ratio | {ratio('p50'):.2f} | {ratio('p99'):.2f} |",
        "",
        f"Rows: each case a {envelope_bytes:,}-byte report envelope (a real sealed report's size), every tenth a "
        f"{reply_bytes:,}-byte reply; the {args.cases:,}-case database was {db_size / 1e6:.0f} MB, filled in {fill_s:.0f} s "
        "by direct inserts. PostgreSQL: not measured by this script.",
    ]
    print("\n".join(lines))
    if args.write:
        bs.write_section(args.write, "status.py", "## Status checks: measured", lines)


if __name__ == "__main__":
    main()
