"""Attachments: a large upload through the chunk API of a real `quietline serve` on loopback
(POST /api/v1/uploads with its proof of work, then every chunk PUT in order on one
connection), against the baseline measured in the same run: the same bytes PUT in the same
chunks on one connection to a minimal sink (a raw ASGI app in this file, served by uvicorn
with the same settings as `quietline serve`) that appends each chunk to one file and fsyncs
it, as the server fsyncs each chunk file. Uploads and sink transfers alternate, run by run.

The chunks are random bytes of the ciphertext chunk size (256 KiB + 17): the server cannot
tell them from ciphertext (it never can), and the client's own encryption is left out of
both sides. The upload is never filed.

Then the server's peak memory: for each of two sizes (the large one and a quarter of it), a
fresh server process takes one upload and its VmHWM (/proc/<pid>/status) is read after.

    .venv/bin/python bench/attachments.py --write docs/BENCHMARKS.md           # 1 GiB
    .venv/bin/python bench/attachments.py --quick --write docs/BENCHMARKS.md   # 64 MiB
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchstack as bs  # noqa: E402

from crypto.attachment import CHUNK_CIPHERTEXT, chunks_for_size  # noqa: E402
from tests.api.support import pow_binding, prove  # noqa: E402

MIB = 1024 * 1024


def sink_app(path: str):
    out = open(path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the process

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        data = bytearray()
        while True:
            message = await receive()
            data += message.get("body", b"")
            if not message.get("more_body"):
                break
        if data:
            out.write(data)
            os.fsync(out.fileno())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def serve_sink(path: str, port: int) -> None:
    import uvicorn

    from server.logging_config import LOGGING_CONFIG

    uvicorn.run(sink_app(path), host="127.0.0.1", port=port, access_log=False, server_header=False,
                date_header=False, proxy_headers=False, forwarded_allow_ips="", log_config=LOGGING_CONFIG)


def upload(base_url: str, chunks: int, chunk: bytes) -> float:
    """Seconds from the upload's creation to its last chunk stored."""
    with httpx.Client(base_url=base_url, timeout=120) as client:
        body = {"chunks": chunks}
        t0 = time.perf_counter()
        body["proof"] = prove(client, "upload", pow_binding("upload", body))
        created = client.post("/api/v1/uploads", json=body)
        if created.status_code != 201:
            raise SystemExit(f"upload creation answered {created.status_code}: {created.text[:200]}")
        upload_id = created.json()["upload_id"]
        for index in range(chunks):
            put = client.put(f"/api/v1/uploads/{upload_id}/chunks/{index}", content=chunk)
            if put.status_code != 204:
                raise SystemExit(f"chunk {index} answered {put.status_code}: {put.text[:200]}")
        elapsed = time.perf_counter() - t0
        done = client.get(f"/api/v1/uploads/{upload_id}").json()
        if len(done["received"]) != chunks:
            raise SystemExit("the server does not hold every chunk")
        return elapsed


def sink(base_url: str, chunks: int, chunk: bytes) -> float:
    with httpx.Client(base_url=base_url, timeout=120) as client:
        t0 = time.perf_counter()
        for index in range(chunks):
            put = client.put(f"/chunks/{index}", content=chunk)
            if put.status_code != 204:
                raise SystemExit(f"sink answered {put.status_code}")
        return time.perf_counter() - t0


def chunks_for(size: int) -> int:
    return chunks_for_size(size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="upload size in MiB (plaintext)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="64 MiB (and 16 MiB for memory), 3 runs")
    parser.add_argument("--write", type=Path)
    parser.add_argument("--serve-sink", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sink:
        serve_sink(args.serve_sink, args.port)
        return
    if args.quick:
        args.mib = 64
    chunks = chunks_for(args.mib * MIB)
    small_chunks = chunks_for(args.mib * MIB // 4)
    chunk = os.urandom(CHUNK_CIPHERTEXT)
    wire = chunks * CHUNK_CIPHERTEXT

    with tempfile.TemporaryDirectory(prefix="ql-bench-attach-", dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
        work = Path(tmp)
        port = bs.free_port()
        sink_file = work / "sink.bin"
        log = work / "sink.log"
        with log.open("wb") as out:
            sink_process = subprocess.Popen([sys.executable, __file__, "--serve-sink", str(sink_file), "--port", str(port)],
                                            stdout=out, stderr=subprocess.STDOUT, cwd=bs.ROOT)
        sink_url = f"http://127.0.0.1:{port}"
        bs.wait_up(sink_url + "/", sink_process, log)
        runs = []
        memory = {}
        try:
            for i in range(args.runs):
                server = bs.start_server(work / f"run{i}")
                try:
                    sides = ["server", "sink"] if i % 2 == 0 else ["sink", "server"]
                    r = {}
                    for side in sides:
                        r[side] = upload(server.base_url, chunks, chunk) if side == "server" else sink(sink_url, chunks, chunk)
                        if side == "sink":
                            sink_file.unlink(missing_ok=True)
                    if i == 0:
                        memory[chunks] = bs.peak_rss_kib(server.pid)
                finally:
                    server.stop()
                    shutil.rmtree(work / f"run{i}", ignore_errors=True)
                runs.append(r)
                print(f"run {i + 1}: server {wire / r['server'] / MIB:.0f} MiB/s, sink {wire / r['sink'] / MIB:.0f} MiB/s",
                      flush=True)
            server = bs.start_server(work / "small")
            try:
                idle = bs.peak_rss_kib(server.pid)
                upload(server.base_url, small_chunks, chunk)
                memory[small_chunks] = bs.peak_rss_kib(server.pid)
            finally:
                server.stop()
        finally:
            bs.stop(sink_process)

    rate = lambda side: [wire / r[side] / MIB for r in runs]  # noqa: E731
    lines = [
        f"Measured {bs.today()} by `bench/attachments.py {' '.join(sys.argv[1:])}` ({'quick' if args.quick else 'full'} "
        f"mode): {args.runs} runs, medians (min–max); SQLite and the local-disk blob store in a temporary folder; "
        f"{bs.cpus()} CPUs shared with other work. Ratio = Quietline ÷ the sink (below 1 is slower), per run.",
        "",
        "| transfer | size on the wire | throughput | ratio |",
        "|---|---|---|---|",
        f"| raw loopback PUTs to one file, fsync per chunk (**baseline**) | {wire / MIB:,.0f} MiB in {chunks} chunks | "
        f"{bs.spread(rate('sink'), '{:.0f}')} MiB/s | 1 |",
        f"| chunk API of `quietline serve` (create with proof, PUT each chunk) | {wire / MIB:,.0f} MiB in {chunks} chunks | "
        f"{bs.spread(rate('server'), '{:.0f}')} MiB/s | "
        f"{bs.median([r['sink'] / r['server'] for r in runs]):.2f} |",
        "",
        "Server peak memory (VmHWM of a fresh `quietline serve` process after one upload; "
        f"{idle / 1024:.0f} MiB right after it started):",
        "",
        "| upload | peak RSS |",
        "|---|---|",
    ]
    for n in sorted(memory):
        lines.append(f"| {n * CHUNK_CIPHERTEXT / MIB:,.0f} MiB ({n} chunks) | {memory[n] / 1024:.0f} MiB |")
    sizes = sorted(memory)
    lines += ["", f"Peak memory for {sizes[-1] // sizes[0]}× the size: ratio {memory[sizes[-1]] / memory[sizes[0]]:.2f} "
                  "(1 would be perfectly flat)."]
    print("\n".join(lines))
    if args.write:
        bs.write_section(args.write, "attachments.py", "## Attachments: measured", lines)


if __name__ == "__main__":
    main()
