"""Workstation: importing an inbound bundle of N cases, each with one attachment, with the
real importer (workstation.importer.import_bundle, in a copy of the development vault,
opened beforehand so its key derivation is not counted), against the baseline measured in
the same run: the raw decryption cost of the same bytes, every envelope opened and its
signature checked and every attachment stream decrypted with crypto/ directly (what the
importer cannot avoid; the rest is its checks, the vault's encryption and its writes).

The cases are filed for real through a `quietline serve` on loopback (reports with proof of
work at 4 bits, attachments through the chunk API; four client threads) and the bundle is
pulled with `quietline sync pull`, as a desk does. Runs alternate importer and baseline.

    .venv/bin/python bench/workstation.py --write docs/BENCHMARKS.md           # 10,000 cases
    .venv/bin/python bench/workstation.py --quick --write docs/BENCHMARKS.md   # 500 cases
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchstack as bs  # noqa: E402

from crypto.attachment import CHUNK_CIPHERTEXT, AttachmentOpener, StreamParams  # noqa: E402
from crypto.bundle import INBOUND, read_bundle  # noqa: E402
from crypto.encoding import b64decode  # noqa: E402
from crypto.envelope import open_envelope  # noqa: E402
from tests.api.support import ProvingHttpClient, Submitter, attachment, file_case  # noqa: E402
from workstation.vault import Vault  # noqa: E402

ATTACHMENT_BYTES = 100 * 1024  # one chunk: 256 KiB of ciphertext on the wire and in the bundle


def file_cases(server: bs.Server, count: int, threads: int = 4) -> None:
    left = list(range(count))
    lock = threading.Lock()
    failed: list[BaseException] = []

    def worker() -> None:
        try:
            with ProvingHttpClient(base_url=server.base_url, timeout=120) as client:
                while True:
                    with lock:
                        if not left:
                            return
                        seed = left.pop()
                    file_case(client, Submitter(), server.desks, [attachment(ATTACHMENT_BYTES, seed)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            failed.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if failed:
        raise SystemExit(f"filing failed: {failed[0]!r}")


def raw_decrypt(path: Path, desk) -> tuple[int, int]:
    """Open every envelope and attachment stream of the bundle; (reports, attachments)."""
    streams: dict[str, StreamParams] = {}
    reports = attachments = 0
    with open(path, "rb") as f:
        bundle = read_bundle(f, INBOUND)
        items = bundle.header["items"]
        for item in (i for i in items if i["type"] == "report"):
            opened = open_envelope(bundle.read_blob(f, item["blob"]), desk.public, desk.box_secret)
            opened.verify(b64decode(opened.body["sign_pk"]))
            for a in opened.body["attachments"]:
                streams[a["upload_id"]] = StreamParams(b64decode(a["key"]), b64decode(a["header"]), a["size"], a["chunks"])
            reports += 1
        for item in (i for i in items if i["type"] == "attachment"):
            opener = AttachmentOpener(streams[item["upload_id"]])
            buffer = bytearray()
            for piece in bundle.iter_blob(f, item["blob"]):
                buffer += piece
                while len(buffer) >= CHUNK_CIPHERTEXT:
                    opener.open_chunk(bytes(buffer[:CHUNK_CIPHERTEXT]))
                    del buffer[:CHUNK_CIPHERTEXT]
            opener.finish()
            attachments += 1
    return reports, attachments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="500 cases, 3 runs")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.cases = 500

    with tempfile.TemporaryDirectory(prefix="ql-bench-ws-") as tmp:
        work = Path(tmp)
        server = bs.start_server(work / "stack")
        try:
            t0 = time.perf_counter()
            file_cases(server, args.cases)
            filed_s = time.perf_counter() - t0
            bundle = work / "inbound.bundle"
            server.cli("sync", "pull", "--out", str(bundle))
        finally:
            server.stop()
        print(f"filed {args.cases} cases in {filed_s:.0f} s; bundle {bundle.stat().st_size / 1e6:.0f} MB", flush=True)
        vault_src = Path(server.env["QUIETLINE_VAULT"])
        passphrase = server.env["QUIETLINE_VAULT_PASSPHRASE"]
        from workstation.importer import import_bundle

        runs = []
        for i in range(args.runs):
            target = work / f"vault{i}"
            shutil.copytree(vault_src, target)
            vault = Vault.open(target, passphrase)
            r = {}
            try:
                for side in (["import", "raw"] if i % 2 == 0 else ["raw", "import"]):
                    t0 = time.perf_counter()
                    if side == "import":
                        result = import_bundle(vault, bundle)
                        if result.new["report"] != args.cases or result.new["attachment"] != args.cases or result.refused:
                            raise SystemExit(f"import did not take every case: {result.new} refused {result.refused[:3]}")
                    else:
                        got = raw_decrypt(bundle, vault.desk)
                        if got != (args.cases, args.cases):
                            raise SystemExit(f"raw decryption opened {got}")
                    r[side] = time.perf_counter() - t0
            finally:
                vault.close()
                shutil.rmtree(target, ignore_errors=True)
            runs.append(r)
            print(f"run {i + 1}: import {r['import']:.1f} s, raw {r['raw']:.1f} s", flush=True)
        size = bundle.stat().st_size

    per = lambda side: [args.cases / r[side] for r in runs]  # noqa: E731
    lines = [
        f"Measured {bs.today()} by `bench/workstation.py {' '.join(sys.argv[1:])}` ({'quick' if args.quick else 'full'} "
        f"mode): {args.runs} runs, medians (min–max); {bs.cpus()} CPUs shared with other work. One inbound bundle of "
        f"{args.cases:,} reports, each with one {ATTACHMENT_BYTES // 1024} KiB attachment ({size / 1e6:,.0f} MB), filed "
        "through a real server and pulled with `quietline sync pull`. Ratio = importer time ÷ raw decryption time, per run.",
        "",
        "| | time | cases per second | ratio |",
        "|---|---|---|---|",
        f"| raw decryption with crypto/ (envelopes opened and signatures checked, streams decrypted; **baseline**) | "
        f"{bs.spread([r['raw'] for r in runs])} s | {bs.spread(per('raw'), '{:.0f}')} | 1 |",
        f"| `import_bundle` into a vault (the real importer) | {bs.spread([r['import'] for r in runs])} s | "
        f"{bs.spread(per('import'), '{:.0f}')} | {bs.median([r['import'] / r['raw'] for r in runs]):.2f} |",
    ]
    print("\n".join(lines))
    if args.write:
        bs.write_section(args.write, "workstation.py", "## Workstation import: measured", lines)


if __name__ == "__main__":
    main()
