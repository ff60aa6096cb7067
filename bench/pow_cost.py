"""What the proof of work costs an honest phone and an attacker (docs/PROTOCOL.md, "Proof of work").

Measures, in one run, how many proof-of-work tries per second (work(n) = BLAKE2b-32 of one
115-byte block, the longest binding) each of these does on this machine:

- native: libsodium's BLAKE2b through PyNaCl over a 64 MiB buffer, divided into 128-byte
  blocks: one try is one BLAKE2b block, so this is the rate a native loop written against
  libsodium would reach on one core, without Python's per-call cost. This is the baseline:
  every other figure is a ratio to it. (PyNaCl called once per try, as crypto/pow.py's solve
  does, is reported too, for what a naive script gets.)
- Chromium with WebAssembly: client_web/js/pow.js's searcher (libsodium.js's WebAssembly build,
  crypto_generichash called on the library's own memory), and through the wrapper;
- Chromium with WebAssembly disabled, as Tor Browser's "Safer" disables it: libsodium.js's
  asm.js build. Chromium 156 ignores --js-flags=--noexpose_wasm (WebAssembly stays defined),
  so, as tests/e2e/test_no_webassembly.py does, an init script deletes it before any page
  script runs (the flag is passed too); the page reports which build ran;
- Chromium without its JIT (--js-flags=--jitless, which also removes WebAssembly): what Tor
  Browser "Safer", which turns the JIT off too, comes closest to.

The page is the real client served by the server's own static app with its security
headers (no inline script: the measurement arrives through page.evaluate as the vectors do).
Runs are interleaved so a noisy neighbour hits every mode alike; figures are medians.

From these, with an assumed phone-to-this-machine slowdown (--phone-slowdown), it gives the
expected time an honest low-end phone needs at the base and the maximum difficulty, and the
attacker's native cost per report (2^d tries; reports per CPU-hour).

    .venv/bin/python bench/pow_cost.py --runs 5 --write docs/BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import hashlib

import uvicorn
from nacl.bindings import crypto_generichash_blake2b_salt_personal as blake2b
from playwright.sync_api import sync_playwright
from starlette.applications import Starlette
from starlette.routing import Mount

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crypto import pow as pw  # noqa: E402
from server.security.headers import SecurityHeadersMiddleware  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.static import client_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
MODES = {  # Chromium flags, and a script run before any page script
    "wasm": ([], None),
    "no-wasm": (["--js-flags=--noexpose_wasm"], "delete globalThis.WebAssembly"),
    "jitless": (["--js-flags=--jitless"], None),
}
LABELS = {
    "wasm": "Chromium, WebAssembly",
    "no-wasm": "Chromium, no WebAssembly (asm.js)",
    "jitless": "Chromium, no JIT (--jitless)",
}
# A phone needs this many times longer than one core of this machine (see --phone-slowdown).
PHONE_SLOWDOWN = 8.0
TARGET_SECONDS = 2.0  # the base difficulty: about this long, on average, for a phone without WebAssembly

# Runs in the page: loads libsodium as the client does, then tries counters on a challenge no
# counter meets (difficulty 64) with pow.js's searcher, from a cold start (what a solve of a
# second or two sees: without WebAssembly the hash runs as plain JavaScript, slow until the
# JIT has compiled it) and on, until it is warm (the rate of the last second); then the
# wrapper's path, warm, for comparison.
MEASURE = """async ([challengeHex, bindingHex, coldMs, warmMs]) => {
  const sodium = await import('/js/sodium.js');
  const pow = await import('/js/pow.js');
  const bytes = await import('/js/bytes.js');
  await sodium.loadSodium();
  const c = bytes.fromHex(challengeHex), b = bytes.fromHex(bindingHex);
  const s = new pow.Searcher(c, b);
  const t0 = performance.now();
  let tries = 0, cold = null, lastMark = [0, 0];
  for (;;) {
    if (s.run(256) >= 0) throw new Error('a difficulty-64 challenge was met');
    tries += 256;
    const el = performance.now() - t0;
    if (cold === null && el >= coldMs) cold = tries / (el / 1000);
    if (el >= warmMs - 1000 && lastMark[0] === 0) lastMark = [el, tries];
    if (el >= warmMs) { var warm = (tries - lastMark[1]) / ((el - lastMark[0]) / 1000); break; }
  }
  const direct = s.direct;
  s.close();
  const w = new pow.Searcher(c, b, { direct: false });
  let wrapperTries = 0;
  const w0 = performance.now();
  while (performance.now() - w0 < 1000) { w.run(256); wrapperTries += 256; }
  const wrapper = wrapperTries / ((performance.now() - w0) / 1000);
  w.close();
  return { cold, warm, wrapper, direct, webAssembly: typeof WebAssembly,
           build: typeof window.libsodium.useBackupModule === 'function' ? 'wasm' : 'asmjs' };
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_client() -> tuple[str, uvicorn.Server, threading.Thread]:
    """The real client files behind the server's own static app and security headers."""
    port = free_port()
    app = SecurityHeadersMiddleware(Starlette(routes=[Mount("/", app=client_app(ROOT / "client_web"))]))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the static server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def work_input() -> tuple[bytes, bytes]:
    """A follow-up challenge (the longest binding: 115 bytes per try) that no counter meets."""
    challenge = pw.make_challenge(bytes(32), pw.FOLLOWUP, 64, 2**32 - 1, bytes(16))
    return challenge, bytes(48)


def native_rate(seconds: float) -> float:
    """libsodium's BLAKE2b over a long buffer, in 128-byte blocks per second (one try each)."""
    data = bytes(64 * 1024 * 1024)
    blocks, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        blake2b(data, digest_size=32)
        blocks += len(data) // 128
    return blocks / (time.perf_counter() - t0)


def hashlib_rate(seconds: float) -> float:
    """The same with CPython's own BLAKE2b (the BLAKE2 authors' SIMD code), which on this
    machine is faster than PyNaCl's libsodium build: an attacker uses the fastest native code."""
    data = bytes(64 * 1024 * 1024)
    blocks, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        hashlib.blake2b(data, digest_size=32).digest()
        blocks += len(data) // 128
    return blocks / (time.perf_counter() - t0)


def pynacl_call_rate(seconds: float) -> float:
    """One PyNaCl call per try, as crypto/pow.py's solve loop does."""
    challenge, binding = work_input()
    prefix = challenge + binding
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(10_000):
            blake2b(prefix + n.to_bytes(8, "little"), digest_size=32)
            n += 1
    return n / (time.perf_counter() - t0)


def browser_rate(playwright, base_url: str, mode: str, cold_s: float, warm_s: float) -> dict:
    flags, init_script = MODES[mode]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + flags)
    try:
        context = browser.new_context()
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        page.goto(base_url + "/")
        page.wait_for_selector("#view-home:not([hidden])")
        challenge, binding = work_input()
        result = page.evaluate(MEASURE, [challenge.hex(), binding.hex(), cold_s * 1000, warm_s * 1000])
        result["version"] = browser.version
        context.close()
        return result
    finally:
        browser.close()


def median(values: list[float]) -> float:
    return statistics.median(values)


def span(values: list[float]) -> str:
    return f"{fmt_rate(min(values))}–{fmt_rate(max(values))}"


def fmt_rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} M/s"
    if rate >= 1e3:
        return f"{rate / 1e3:.1f} k/s"
    return f"{rate:.0f}/s"


def fmt_seconds(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def render(results: dict, meta: dict) -> str:
    native = results["native"]
    base, top = meta["base_bits"], meta["max_bits"]
    slow = meta["phone_slowdown"]
    lines = [
        "<!-- generated by bench/pow_cost.py (make bench); edits between these markers are overwritten -->",
        f"Measured {meta['day']} by `{meta['command']}`: {meta['runs']} runs, medians (min–max); Chromium "
        f"{meta['chromium']}; {meta['cpus']} CPUs, shared. One try is one BLAKE2b block (a follow-up's "
        "115 bytes). Ratio = rate ÷ the native rate measured in the same run.",
        "",
        "| where | tries per second | ratio to native |",
        "|---|---|---|",
        f"| native: libsodium BLAKE2b through PyNaCl, 128-byte blocks of a 64 MiB buffer (one core; **baseline**) "
        f"| {fmt_rate(median(native))} ({span(native)}) | 1 |",
        f"| native: CPython hashlib.blake2b, the same blocks | {fmt_rate(median(results['hashlib']))} "
        f"({span(results['hashlib'])}) | {median(results['hashlib']) / median(native):.2f} |",
        f"| PyNaCl called once per try (crypto/pow.py's solve) | {fmt_rate(median(results['pynacl_call']))} "
        f"({span(results['pynacl_call'])}) | {median(results['pynacl_call']) / median(native):.3f} |",
    ]
    for mode in MODES:
        for kind, what in (("cold", f"pow.js, first {meta['cold_s']:g} s from a fresh page"),
                           ("warm", f"pow.js, after {meta['warm_s']:g} s of work"),
                           ("wrapper", "through the libsodium.js wrapper, warm")):
            values = results[f"{mode}/{kind}"]
            lines.append(f"| {LABELS[mode]}: {what} | {fmt_rate(median(values))} ({span(values)}) "
                         f"| {median(values) / median(native):.4f} |")
    lines += [
        "",
        f"Builds seen: {', '.join(f'{m}: {b}' for m, b in meta['builds'].items())}; pow.js called libsodium "
        f"directly in every mode: {'yes' if meta['direct'] else '**no**'}.",
        "",
        f"Expected time for an honest low-end phone, assumed {slow:g}× slower than one core here "
        "(mean 2^d tries; 1 person in 20 needs 3× the mean or more). The base uses the cold rate "
        "(a short solve never gets the JIT's help), the maximum the warm one (a long solve does):",
        "",
        f"| where | base, {base} bits | maximum, {top} bits |",
        "|---|---|---|",
    ]
    for mode in MODES:
        cold = median(results[f"{mode}/cold"]) / slow
        warm = median(results[f"{mode}/warm"]) / slow
        lines.append(f"| phone, {LABELS[mode].removeprefix('Chromium, ')} | {fmt_seconds(2**base / cold)} "
                     f"| {fmt_seconds(2**top / warm)} |")
    rate = max(median(native), median(results["hashlib"]))
    lines += [
        "",
        f"The attacker's native cost per report, one core of this machine at the faster native rate "
        f"({fmt_rate(rate)}); a GPU does far more (see the text above this section):",
        "",
        "| difficulty | tries per report | CPU time per report | reports per CPU-hour |",
        "|---|---|---|---|",
    ]
    for label, bits in ((f"base, {base} bits", base), (f"maximum, {top} bits", top)):
        lines.append(f"| {label} | {2**bits:,} | {fmt_seconds(2**bits / rate)} | {3600 * rate / 2**bits:,.0f} |")
    phone_cold = median(results["no-wasm/cold"]) / slow
    suggested = round(math.log2(TARGET_SECONDS * phone_cold))
    lines += [
        "",
        f"Base difficulty whose mean is nearest {TARGET_SECONDS:g} s on a phone without WebAssembly, from this "
        f"run: {suggested} bits ({fmt_seconds(2**suggested / phone_cold)}); configured default: "
        f"{meta['default_bits']} bits ({fmt_seconds(2**meta['default_bits'] / phone_cold)}).",
        "<!-- end of pow_cost section -->",
    ]
    return "\n".join(lines) + "\n"


START = "<!-- generated by bench/pow_cost.py"
END = "<!-- end of pow_cost section -->"
HEADING = "## Proof of work: measured"


def write_into(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    if START in text and END in text:
        before = text[: text.index(START)]
        after = text[text.index(END) + len(END):].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + f"\n\n{HEADING}\n\n" + section
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0, help="native measuring time per run")
    parser.add_argument("--cold-seconds", type=float, default=2.0, help="the browser's cold measurement")
    parser.add_argument("--warm-seconds", type=float, default=10.0, help="browser work before the warm rate")
    parser.add_argument("--phone-slowdown", type=float, default=PHONE_SLOWDOWN)
    parser.add_argument("--write", type=Path, help="replace the generated section of this Markdown file")
    args = parser.parse_args()

    settings = Settings()
    results: dict[str, list[float]] = {"native": [], "hashlib": [], "pynacl_call": []}
    for mode in MODES:
        for kind in ("cold", "warm", "wrapper"):
            results[f"{mode}/{kind}"] = []
    builds: dict[str, str] = {}
    direct = True
    version = ""
    base_url, server, thread = serve_client()
    try:
        with sync_playwright() as playwright:
            for i in range(args.runs):
                results["native"].append(native_rate(args.seconds))
                results["hashlib"].append(hashlib_rate(args.seconds))
                results["pynacl_call"].append(pynacl_call_rate(args.seconds))
                for mode in MODES:
                    r = browser_rate(playwright, base_url, mode, args.cold_seconds, args.warm_seconds)
                    for kind in ("cold", "warm", "wrapper"):
                        results[f"{mode}/{kind}"].append(r[kind])
                    builds[mode] = f"{r['build']} (WebAssembly {r['webAssembly']})"
                    direct = direct and r["direct"]
                    version = r["version"]
                print(f"run {i + 1}/{args.runs}: native {fmt_rate(results['native'][-1])}, "
                      + ", ".join(f"{m} {fmt_rate(results[f'{m}/cold'][-1])} cold, {fmt_rate(results[f'{m}/warm'][-1])} warm"
                                  for m in MODES), flush=True)
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    meta = {
        "day": dt.date.today().isoformat(),
        "command": "make bench" if os.environ.get("MAKELEVEL") else " ".join(["bench/pow_cost.py", *sys.argv[1:]]),
        "runs": args.runs,
        "chromium": version,
        "cpus": os.cpu_count(),
        "phone_slowdown": args.phone_slowdown,
        "cold_s": args.cold_seconds,
        "warm_s": args.warm_seconds,
        "base_bits": settings.pow_bits,
        "max_bits": settings.pow_max_bits,
        "default_bits": Settings.model_fields["pow_bits"].default,
        "builds": builds,
        "direct": direct,
    }
    section = render(results, meta)
    print(section)
    if args.write:
        write_into(args.write, section)


if __name__ == "__main__":
    main()
