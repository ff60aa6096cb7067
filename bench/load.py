"""A load test: for --seconds (60 by default), concurrent submitters (reports with their proof
of work at 4 bits, every fifth with a one-chunk attachment through the chunk API) and status
checkers (lookups of acknowledged cases and of unknown ones) against a real `quietline serve`
on loopback. Then a desk pulls the inbound bundle (`quietline sync pull`) and imports it
(`quietline ws import`), and every acknowledged report is looked for in the vault: present,
its text the one sent, its attachment decrypting to the bytes sent. It fails (exit 1) on any
error or lost report.

The baseline, measured in the same run just before the load: the same server's latency for
one lookup and one report at a time, idle; the table gives latency under load as a ratio to it.

    .venv/bin/python bench/load.py --write docs/BENCHMARKS.md
    .venv/bin/python bench/load.py --quick --write docs/BENCHMARKS.md   # 20 s
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchstack as bs  # noqa: E402

from crypto.encoding import b64encode  # noqa: E402
from tests.api.support import ProvingHttpClient, Submitter, attachment  # noqa: E402


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: dict = field(default_factory=dict)  # case_id -> (text, attachment bytes or None)
    report_s: list = field(default_factory=list)
    lookup_s: list = field(default_factory=list)
    errors: list = field(default_factory=list)


def submit_one(client, desks, with_attachment: bool, tally: Tally | None) -> float:
    sub = Submitter()
    text = f"load report {secrets.token_hex(8)}"
    att = attachment(50 * 1024, random.randrange(1 << 30)) if with_attachment else None
    if att is not None:
        from tests.api.support import upload

        upload(client, att)
    env = sub.report(desks, [att.descriptor()] if att else [], text=text)
    t0 = time.perf_counter()
    response = client.post("/api/v1/cases", json={"lookup": sub.lookup, "envelope": b64encode(env),
                                                  "uploads": [att.upload_id] if att else []})
    elapsed = time.perf_counter() - t0
    if response.status_code != 201:
        raise RuntimeError(f"report answered {response.status_code}: {response.text[:200]}")
    if response.json()["case_id"] != sub.case_id:
        raise RuntimeError("the server acknowledged another case id")
    if tally is not None:
        with tally.lock:
            tally.acknowledged[sub.case_id] = (text, att.data if att else None, sub.lookup)
    return elapsed


def lookup_one(client, lookup: str, expect_found: bool) -> float:
    t0 = time.perf_counter()
    response = client.post("/api/v1/cases/lookup", json={"lookup": lookup})
    elapsed = time.perf_counter() - t0
    if response.status_code != 200:
        raise RuntimeError(f"lookup answered {response.status_code}: {response.text[:200]}")
    if response.json()["found"] != expect_found:
        raise RuntimeError(f"lookup found={response.json()['found']}, expected {expect_found}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--submitters", type=int, default=8)
    parser.add_argument("--checkers", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="20 s")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.seconds = 20

    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="ql-bench-load-") as tmp:
        work = Path(tmp)
        server = bs.start_server(work / "stack")
        try:
            # Baseline: the idle server, one request at a time.
            idle_lookup, idle_report = [], []
            with ProvingHttpClient(base_url=server.base_url, timeout=60) as client:
                for i in range(40):
                    idle_report.append(submit_one(client, server.desks, False, None))
                    idle_lookup.append(lookup_one(client, b64encode(secrets.token_bytes(32)), False))
            baseline_ids = 40
            stop_at = time.monotonic() + args.seconds

            def submitter(n: int) -> None:
                with ProvingHttpClient(base_url=server.base_url, timeout=120) as client:
                    i = 0
                    while time.monotonic() < stop_at:
                        try:
                            s = submit_one(client, server.desks, (i + n) % 5 == 0, tally)
                            with tally.lock:
                                tally.report_s.append(s)
                        except Exception as exc:  # noqa: BLE001 - every error is counted and shown
                            with tally.lock:
                                tally.errors.append(repr(exc))
                        i += 1

            def checker() -> None:
                rng = random.Random()
                with ProvingHttpClient(base_url=server.base_url, timeout=120) as client:
                    while time.monotonic() < stop_at:
                        with tally.lock:
                            known = list(tally.acknowledged.values())
                        try:
                            if known and rng.random() < 0.5:
                                s = lookup_one(client, rng.choice(known)[2], True)
                            else:
                                s = lookup_one(client, b64encode(secrets.token_bytes(32)), False)
                            with tally.lock:
                                tally.lookup_s.append(s)
                        except Exception as exc:  # noqa: BLE001
                            with tally.lock:
                                tally.errors.append(repr(exc))

            threads = [threading.Thread(target=submitter, args=(n,)) for n in range(args.submitters)]
            threads += [threading.Thread(target=checker) for _ in range(args.checkers)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0

            bundle = work / "inbound.bundle"
            server.cli("sync", "pull", "--out", str(bundle))
            server.cli("ws", "import", str(bundle))
        finally:
            server.stop()

        # Every acknowledged report, in the vault, as sent.
        from workstation.cases import case_detail, extract_attachments, get_case
        from workstation.vault import Vault

        lost, wrong = [], []
        vault = Vault.open(Path(server.env["QUIETLINE_VAULT"]), server.env["QUIETLINE_VAULT_PASSPHRASE"])
        try:
            for case_id, (text, data, _lookup) in tally.acknowledged.items():
                case = get_case(vault, case_id)
                if case is None:
                    lost.append(case_id)
                    continue
                if case["report"].get("text") != text:
                    wrong.append(case_id)
                if data is not None:
                    out = work / "extract" / case_id
                    out.mkdir(parents=True)
                    files = extract_attachments(vault, case_detail(vault, case), out)
                    if len(files) != 1 or files[0][1].read_bytes() != data:
                        wrong.append(case_id)
            from workstation.cases import list_cases

            in_vault = len(list_cases(vault))
        finally:
            vault.close()

    acked = len(tally.acknowledged)
    with_att = sum(1 for v in tally.acknowledged.values() if v[1] is not None)
    ok = not tally.errors and not lost and not wrong and in_vault == acked + baseline_ids
    ms = lambda xs, p: bs.pct(xs, p) * 1000  # noqa: E731
    lines = [
        f"Measured {bs.today()} by `bench/load.py {' '.join(sys.argv[1:])}` ({'quick' if args.quick else 'full'} mode): "
        f"{args.seconds:.0f} s, {args.submitters} submitter and {args.checkers} status-checker threads on one connection "
        f"each, SQLite, proof of work at {bs.BENCH_POW_BITS} bits; {bs.cpus()} CPUs shared with other work (the clients "
        "run on the same cores as the server). Ratio = latency under load ÷ the same server's median latency idle, one "
        "request at a time, measured just before (the baseline).",
        "",
        "| | count | per second | p50 | p99 | p50 ratio | p99 ratio |",
        "|---|---|---|---|---|---|---|",
        f"| reports acknowledged (201) | {acked:,} ({with_att:,} with an attachment) | {acked / wall:.1f} | "
        f"{ms(tally.report_s, 50):.1f} ms | {ms(tally.report_s, 99):.1f} ms | "
        f"{bs.pct(tally.report_s, 50) / bs.median(idle_report):.1f} | {bs.pct(tally.report_s, 99) / bs.median(idle_report):.1f} |",
        f"| status lookups (200) | {len(tally.lookup_s):,} | {len(tally.lookup_s) / wall:.1f} | "
        f"{ms(tally.lookup_s, 50):.1f} ms | {ms(tally.lookup_s, 99):.1f} ms | "
        f"{bs.pct(tally.lookup_s, 50) / bs.median(idle_lookup):.1f} | {bs.pct(tally.lookup_s, 99) / bs.median(idle_lookup):.1f} |",
        f"| idle baseline: report POST, lookup | 40, 40 | | {bs.median(idle_report) * 1000:.1f} ms, "
        f"{bs.median(idle_lookup) * 1000:.1f} ms | | 1 | |",
        "",
        f"Errors: {len(tally.errors)}. Lost reports: {len(lost)} (acknowledged but not in the vault after `quietline sync "
        f"pull` and `quietline ws import`); imported with other content than sent: {len(wrong)}; cases in the vault: "
        f"{in_vault:,} (= {acked:,} + the {baseline_ids} of the idle baseline: {'yes' if in_vault == acked + baseline_ids else 'NO'}). "
        f"Every attachment extracted from the vault equals the bytes sent. Result: {'pass' if ok else 'FAIL'}.",
    ]
    if tally.errors:
        lines.append(f"First errors: {'; '.join(tally.errors[:3])}")
    print("\n".join(lines))
    if args.write:
        bs.write_section(args.write, "load.py", "## Load test: measured", lines)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
