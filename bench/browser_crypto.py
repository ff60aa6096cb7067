"""Browser encryption throughput: a large attachment sealed chunk by chunk with the real
client's `js/attachment.js` (AttachmentSealer, libsodium.js's secretstream) in Debian's
headless Chromium, with WebAssembly and without it (asm.js: an init script deletes
`WebAssembly`, as bench/pow_cost.py and tests/e2e/test_no_webassembly.py do), against the
baseline measured in the same run: the same operation natively with PyNaCl
(crypto.attachment.seal_bytes), same size. The client is served by the server's own static
app with its security headers (bench/pow_cost.py's serve_client). Runs alternate the modes.

    .venv/bin/python bench/browser_crypto.py --write docs/BENCHMARKS.md           # 256 MiB
    .venv/bin/python bench/browser_crypto.py --quick --write docs/BENCHMARKS.md   # 32 MiB
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchstack as bs  # noqa: E402
from pow_cost import CHROMIUM, CHROMIUM_ARGS, MODES, serve_client  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from crypto.attachment import seal_bytes  # noqa: E402

MIB = 1024 * 1024
BROWSER_MODES = ("wasm", "no-wasm")
LABELS = {"wasm": "Chromium, WebAssembly", "no-wasm": "Chromium, no WebAssembly (asm.js)"}

SEAL = """async (mib) => {
  const sodium = await import('/js/sodium.js');
  const att = await import('/js/attachment.js');
  await sodium.loadSodium();
  const size = mib * 1024 * 1024;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  const t0 = performance.now();
  const sealer = new att.AttachmentSealer(size);
  let out = 0;
  for (let i = 0; i < sealer.params.chunks; i++) {
    const start = i * att.CHUNK_PLAINTEXT;
    out += sealer.sealChunk(data.subarray(Math.min(size, start), Math.min(size, start + att.CHUNK_PLAINTEXT))).length;
  }
  const ms = performance.now() - t0;
  return { ms, out, webAssembly: typeof WebAssembly,
           build: typeof window.libsodium.useBackupModule === 'function' ? 'wasm' : 'asmjs' };
}"""


def browser_seal(playwright, base_url: str, mode: str, mib: int) -> dict:
    flags, init_script = MODES[mode]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + flags)
    try:
        context = browser.new_context()
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        page.goto(base_url + "/")
        page.wait_for_selector("#view-home:not([hidden])")
        result = page.evaluate(SEAL, mib)
        result["version"] = browser.version
        context.close()
        return result
    finally:
        browser.close()


def native_seal(mib: int) -> float:
    data = os.urandom(mib * MIB)
    t0 = time.perf_counter()
    seal_bytes(data)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="32 MiB, 3 runs")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.mib, args.runs = 32, 3
    runs, builds, version = [], {}, ""
    base_url, server, thread = serve_client()
    try:
        with sync_playwright() as playwright:
            for i in range(args.runs):
                r = {"native": native_seal(args.mib)}
                for mode in (BROWSER_MODES if i % 2 == 0 else tuple(reversed(BROWSER_MODES))):
                    got = browser_seal(playwright, base_url, mode, args.mib)
                    r[mode] = got["ms"] / 1000
                    builds[mode] = f"{got['build']} (WebAssembly {got['webAssembly']})"
                    version = got["version"]
                runs.append(r)
                print(f"run {i + 1}: " + ", ".join(f"{k} {args.mib / v:.0f} MiB/s" for k, v in r.items()), flush=True)
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    rate = lambda k: [args.mib / r[k] for r in runs]  # noqa: E731
    lines = [
        f"Measured {bs.today()} by `bench/browser_crypto.py {' '.join(sys.argv[1:])}` ({'quick' if args.quick else 'full'} "
        f"mode): a {args.mib} MiB attachment sealed in 256 KiB chunks, {args.runs} runs, medians (min–max); Chromium "
        f"{version}, headless; {bs.cpus()} CPUs shared with other work. Ratio = throughput ÷ the native PyNaCl throughput "
        "of the same run.",
        "",
        "| where | throughput | ratio to native |",
        "|---|---|---|",
        f"| native: PyNaCl secretstream (crypto.attachment.seal_bytes; **baseline**) | {bs.spread(rate('native'), '{:.0f}')} MiB/s | 1 |",
    ]
    for mode in BROWSER_MODES:
        lines.append(f"| {LABELS[mode]}: js/attachment.js AttachmentSealer | {bs.spread(rate(mode), '{:.1f}')} MiB/s | "
                     f"{bs.median([r['native'] / r[mode] for r in runs]):.3f} |")
    lines += ["", "Builds seen: " + ", ".join(f"{m}: {b}" for m, b in builds.items()) + "."]
    print("\n".join(lines))
    if args.write:
        bs.write_section(args.write, "browser_crypto.py", "## Browser encryption: measured", lines)


if __name__ == "__main__":
    main()
