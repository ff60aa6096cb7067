"""How heavy and how slow the web client is for a visitor on a slow link.

Starts the real stack as tests/e2e/conftest.py does (development keys from the CLI,
`quietline serve` in a subprocess, Debian's Chromium through Playwright, no browser
download), then, in fresh browser contexts with Chrome DevTools Protocol network emulation,
measures:

- the first page: bytes transferred (CDP encodedDataLength: headers and body as sent on
  the wire) and requests, until the home page is usable and the network is idle, and
  whether any /vendor/ script (libsodium) was among them;
- time to a usable home page (navigation start -> #view-home shown);
- time to a usable report form: "Make a new report" clicked -> the organisation key
  fingerprint shown, which needs libsodium loaded and the manifest verified;
- time to open a case: "I have a case key" clicked, the key typed at once, Open ->
  #view-case shown (libsodium, lookup, replies opened);
- a baseline: one fetch of a fixed 100 KiB incompressible static file, in the same context,
  under the same emulation. The machine is shared and noisy, so every time is also given as
  a ratio to that baseline (median of the per-run ratios).

Times are read from the page's own clock (performance.now(), recorded by a MutationObserver
added before any page script runs), so Playwright's round trips are not counted.

    .venv/bin/python bench/web_load.py --runs 5 --write docs/BENCHMARKS.md

The client is served from a temporary copy of client_web/ (build inputs left out) with one
extra file, bench-baseline.bin; nothing in the repository is changed except the
--write target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
QUIETLINE = str(Path(sys.executable).with_name("quietline"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
BASELINE_NAME = "bench-baseline.bin"
BASELINE_BYTES = 100 * 1024

# Chrome DevTools' "Slow 3G" as the brief gives it: ~400 kbit/s each way, 400 ms latency.
CONDITIONS = {
    "slow3g": {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8},
    "unthrottled": {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
}

# Budgets: bench/budgets.json, shared with tests/e2e/test_page_weight.py.
BUDGETS = {k: v for k, v in json.loads((Path(__file__).with_name("budgets.json")).read_text()).items() if not k.startswith("_")}

# Runs before any page script: marks when each view becomes usable, on the page's clock.
MARKS = """
(() => {
  const marks = window.__marks = {};
  const visible = (id) => { const el = document.getElementById(id); return el && !el.hidden; };
  const check = () => {
    if (!marks.home && visible('view-home')) marks.home = performance.now();
    const fp = document.querySelector('#view-report .root-fingerprint');
    if (!marks.form && visible('view-report') && fp && fp.textContent.trim()) marks.form = performance.now();
    if (!marks.case && visible('view-case')) marks.case = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  document.addEventListener('click', (e) => {
    const button = e.target.closest && e.target.closest('button');
    if (button && button.id && !marks['click:' + button.id]) marks['click:' + button.id] = performance.now();
  }, true);
})();
"""

BASELINE_FETCH = """async (name) => {
  const t0 = performance.now();
  const response = await fetch('/' + name, { cache: 'no-store', credentials: 'omit' });
  const bytes = (await response.arrayBuffer()).byteLength;
  return { ms: performance.now() - t0, bytes };
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    base_url: str
    process: subprocess.Popen
    work: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def client_copy(target: Path) -> Path:
    skip = shutil.ignore_patterns("node_modules", "package.json", "package-lock.json", "scripts", ".*")
    shutil.copytree(ROOT / "client_web", target, ignore=skip)
    (target / BASELINE_NAME).write_bytes(random.Random(20261122).randbytes(BASELINE_BYTES))
    return target


def start_stack(work: Path) -> Stack:
    keys_dir, var_dir = work / "keys", work / "var"
    port = free_port()
    env = dict(
        os.environ,
        QUIETLINE_DATABASE_URL=f"sqlite:///{var_dir / 'quietline.db'}",
        QUIETLINE_BLOB_DIR=str(var_dir / "blobs"),
        QUIETLINE_MANIFEST=str(keys_dir / "manifest.json"),
        QUIETLINE_DEPLOYMENT=str(keys_dir / "deployment.json"),
        QUIETLINE_DESK_TOKENS=str(var_dir / "desk-tokens.json"),
        QUIETLINE_CLIENT_DIR=str(client_copy(work / "client_web")),
        QUIETLINE_VAULT=str(var_dir / "vault"),
        QUIETLINE_VAULT_PASSPHRASE="quietline-dev",
        QUIETLINE_SYNC_CONFIG=str(var_dir / "sync.json"),
        QUIETLINE_POW_KEY_FILE=str(var_dir / "pow.key"),
    )
    made = subprocess.run(
        [QUIETLINE, "keys", "dev", "--keys-dir", str(keys_dir), "--var-dir", str(var_dir)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    if made.returncode != 0:
        raise SystemExit(f"quietline keys dev failed: {made.stderr}{made.stdout}")
    log = (work / "server.log").open("wb")
    process = subprocess.Popen(
        [QUIETLINE, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base_url}/api/v1/manifest", timeout=2).status_code == 200:
                return Stack(base_url, process, work)
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"server did not start:\n{(work / 'server.log').read_text()}")
        time.sleep(0.2)


class Wire:
    """Every request a page makes, with the bytes its response took on the wire (CDP)."""

    def __init__(self, page, condition: dict, identity: bool = False):
        self.cdp = page.context.new_cdp_session(page)
        self.requests: dict[str, dict] = {}
        self.cdp.on("Network.requestWillBeSent", self._sent)
        self.cdp.on("Network.responseReceived", self._response)
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.send("Network.enable")
        self.cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        if identity:
            self.cdp.send("Network.setExtraHTTPHeaders", {"headers": {"Accept-Encoding": "identity"}})
        self.cdp.send("Network.emulateNetworkConditions", condition)
        self.phase = "first"

    def _sent(self, event):
        self.requests.setdefault(event["requestId"], {"url": event["request"]["url"], "phase": self.phase, "bytes": 0})

    def _response(self, event):
        entry = self.requests.get(event["requestId"])
        if entry is not None:
            headers = {k.lower(): v for k, v in event["response"]["headers"].items()}
            entry["encoding"] = headers.get("content-encoding", "")

    def _finished(self, event):
        entry = self.requests.get(event["requestId"])
        if entry is not None:
            entry["bytes"] = int(event["encodedDataLength"])

    def of(self, phase: str) -> list[dict]:
        return [r for r in self.requests.values() if r["phase"] == phase]


def wait_idle(page, wire: Wire, phase: str, quiet_ms: int = 600, timeout_s: float = 120) -> None:
    """Until no request of `phase` is unfinished and none started for quiet_ms."""
    deadline = time.monotonic() + timeout_s
    seen = -1
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(100)
        count = len(wire.of(phase))
        if count != seen:
            seen, stable_since = count, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_ms / 1000:
            return
    raise TimeoutError(f"network never went idle in phase {phase}")


def new_page(browser, condition: dict, identity: bool):
    context = browser.new_context(locale="en-US", accept_downloads=False)
    context.add_init_script(MARKS)
    page = context.new_page()
    return context, page, Wire(page, condition, identity)


def marks(page) -> dict:
    return page.evaluate("window.__marks")


def one_run(browser, base_url: str, case_key: str, condition: dict, identity: bool) -> dict:
    result: dict = {}
    # 1. First page, then the report form.
    context, page, wire = new_page(browser, condition, identity)
    try:
        page.goto(base_url + "/", wait_until="commit", timeout=120_000)
        page.wait_for_selector("#view-home:not([hidden])", timeout=120_000)
        wait_idle(page, wire, "first")
        first = wire.of("first")
        result["first_bytes"] = sum(r["bytes"] for r in first)
        result["first_requests"] = len(first)
        result["first_vendor"] = sorted(r["url"] for r in first if "/vendor/" in r["url"])
        result["first_encodings"] = sorted({r.get("encoding", "") for r in first})
        result["first_files"] = {re.sub(r"^https?://[^/]+", "", r["url"]): r["bytes"] for r in first}
        wire.phase = "form"
        page.get_by_role("button", name="Make a new report").click()
        page.wait_for_selector("#view-report .root-fingerprint:not(:empty)", timeout=120_000)
        wait_idle(page, wire, "form")
        m = marks(page)
        result["home_ms"] = m["home"]
        result["form_ms"] = m["form"] - m["click:go-report"]
        result["home_then_form_ms"] = result["home_ms"] + result["form_ms"]
        result["form_bytes"] = sum(r["bytes"] for r in wire.of("form"))
        result["form_requests"] = len(wire.of("form"))
        wire.phase = "baseline"
        base = page.evaluate(BASELINE_FETCH, BASELINE_NAME)
        result["baseline_ms"] = base["ms"]
        result["baseline_bytes"] = base["bytes"]
    finally:
        context.close()
    # 2. Open a case from a fresh visit.
    context, page, wire = new_page(browser, condition, identity)
    try:
        page.goto(base_url + "/", wait_until="commit", timeout=120_000)
        page.wait_for_selector("#view-home:not([hidden])", timeout=120_000)
        wait_idle(page, wire, "first")
        wire.phase = "case"
        page.get_by_role("button", name="I have a case key").click()
        page.get_by_label("Case key").fill(case_key)
        page.get_by_role("button", name="Open").click()
        page.wait_for_selector("#view-case:not([hidden])", timeout=120_000)
        m = marks(page)
        result["case_ms"] = m["case"] - m["click:go-return"]
        result["home_then_case_ms"] = m["home"] + result["case_ms"]
        result["case_bytes"] = sum(r["bytes"] for r in wire.of("case"))
    finally:
        context.close()
    return result


def file_a_case(browser, base_url: str) -> str:
    """One report through the real form (unthrottled), for the case-opening measurement."""
    context = browser.new_context(locale="en-US", accept_downloads=False)
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        page.get_by_role("button", name="Make a new report").click()
        page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
        page.get_by_label("Country where it happened").select_option("KE")
        send = page.locator("#report-send")
        for _ in range(20):
            if send.is_visible():
                break
            page.click("#step-next-button")
        send.click()
        page.wait_for_selector("#view-key:not([hidden])", timeout=60_000)
        return page.inner_text("#case-key-display").strip()
    finally:
        context.close()


def median(values):
    return statistics.median(values) if values else float("nan")


def summarise(runs: list[dict]) -> dict:
    out = {"runs": len(runs)}
    for key in ("first_bytes", "first_requests", "form_bytes", "form_requests", "case_bytes", "home_ms", "form_ms",
                "home_then_form_ms", "case_ms", "home_then_case_ms", "baseline_ms", "baseline_bytes"):
        values = [r[key] for r in runs]
        out[key] = median(values)
        if key.endswith("_ms"):
            out[key + "_min"], out[key + "_max"] = min(values), max(values)
    for key in ("home_ms", "form_ms", "home_then_form_ms", "case_ms", "home_then_case_ms"):
        out[key + "_ratio"] = median([r[key] / r["baseline_ms"] for r in runs])
    out["first_vendor"] = sorted({u for r in runs for u in r["first_vendor"]})
    out["first_encodings"] = sorted({e for r in runs for e in r["first_encodings"]})
    out["first_files"] = runs[-1]["first_files"]
    return out


def budgets_table(results: dict) -> list[tuple[str, str, str, bool]]:
    s3 = results["slow3g"]
    rows = [
        ("First page transferred", f"≤ {BUDGETS['first_page_kb']} KB", f"{s3['first_bytes'] / 1000:.1f} KB",
         s3["first_bytes"] <= BUDGETS["first_page_kb"] * 1000),
        ("First page requests", f"≤ {BUDGETS['first_page_requests']}", f"{s3['first_requests']:.0f}",
         s3["first_requests"] <= BUDGETS["first_page_requests"]),
        ("libsodium (/vendor/) on the first page", "none", ", ".join(s3["first_vendor"]) or "none",
         not s3["first_vendor"]),
        ("Usable home page, Slow 3G", f"≤ {BUDGETS['home_slow3g_s']:.0f} s", f"{s3['home_ms'] / 1000:.1f} s",
         s3["home_ms"] <= BUDGETS["home_slow3g_s"] * 1000),
        ("Usable report form after the click, Slow 3G", f"≤ {BUDGETS['form_slow3g_s']:.0f} s",
         f"{s3['form_ms'] / 1000:.1f} s", s3["form_ms"] <= BUDGETS["form_slow3g_s"] * 1000),
        ("Case opened after the click, Slow 3G", f"≤ {BUDGETS['case_slow3g_s']:.0f} s",
         f"{s3['case_ms'] / 1000:.1f} s", s3["case_ms"] <= BUDGETS["case_slow3g_s"] * 1000),
    ]
    return rows


def render(results: dict, meta: dict) -> str:
    lines = [
        "<!-- generated by bench/web_load.py (make bench); edits between these markers are overwritten -->",
        f"Measured {meta['day']} by `{meta['command']}`: {meta['runs']} runs per condition, medians "
        f"(min–max); Chromium {meta['chromium']}; {meta['cpus']} CPUs, shared. Ratio = time ÷ the "
        f"baseline (one fetch of a fixed {BASELINE_BYTES // 1024} KiB incompressible file in the same "
        "context under the same emulation), median of per-run ratios; compare ratios across runs and "
        "machines, not seconds.",
        "",
        "### Budgets",
        "",
        "| budget | limit | measured | met |",
        "|---|---|---|---|",
    ]
    for name, limit, measured, met in budgets_table(results):
        lines.append(f"| {name} | {limit} | {measured} | {'yes' if met else '**no**'} |")
    lines += ["", "### Figures", "",
              "| condition | first page | report form flow | case flow | home usable | report form usable (after click) "
              "| case open (after click) | baseline 100 KiB |",
              "|---|---|---|---|---|---|---|---|"]

    def t(s, key):
        return (f"{s[key] / 1000:.2f} s ({s[key + '_min'] / 1000:.2f}–{s[key + '_max'] / 1000:.2f}), "
                f"ratio {s[key + '_ratio']:.1f}")

    for name, s in results.items():
        lines.append(
            f"| {name} | {s['first_bytes'] / 1000:.1f} KB, {s['first_requests']:.0f} requests "
            f"| +{s['form_bytes'] / 1000:.1f} KB, {s['form_requests']:.0f} requests | +{s['case_bytes'] / 1000:.1f} KB "
            f"| {t(s, 'home_ms')} | {t(s, 'form_ms')} | {t(s, 'case_ms')} "
            f"| {s['baseline_ms'] / 1000:.2f} s ({s['baseline_ms_min'] / 1000:.2f}–{s['baseline_ms_max'] / 1000:.2f}) |"
        )
    lines += ["", "A fresh visit, clicking the moment the home page is usable (home + after-click times of the "
              "same run; the bench itself lets the first page settle before it clicks):", ""]
    for name, s in results.items():
        lines.append(f"- {name}: report form {t(s, 'home_then_form_ms')}; case open {t(s, 'home_then_case_ms')}")
    first = results["slow3g"]["first_files"]
    lines += ["", "First page, request by request (Slow 3G, last run, bytes on the wire): "
              + ", ".join(f"`{path}` {n / 1000:.1f} KB" for path, n in first.items())]
    encodings = results["slow3g"]["first_encodings"]
    lines += ["", f"Content-Encoding seen on the first page: {', '.join(e or '(none)' for e in encodings)} "
              "(files under 500 bytes, and error responses, are sent as they are)."]
    lines.append("<!-- end of generated section -->")
    return "\n".join(lines) + "\n"


START = "<!-- generated by bench/web_load.py"
END = "<!-- end of generated section -->"


def write_into(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    if START in text and END in text:
        before = text[: text.index(START)]
        after = text[text.index(END) + len(END):].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        heading = "" if text.rstrip().endswith("## Measured") else "\n\n## Measured"
        text = text.rstrip("\n") + heading + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--conditions", default="slow3g,unthrottled,slow3g-identity",
                        help="comma-separated; '-identity' asks for uncompressed responses (Accept-Encoding: identity)")
    parser.add_argument("--write", type=Path, help="replace the generated section of this Markdown file")
    parser.add_argument("--json", type=Path, help="also write every run as JSON here")
    args = parser.parse_args()

    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(prefix="quietline-bench-") as tmp:
        stack = start_stack(Path(tmp))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    case_key = file_a_case(browser, stack.base_url)
                    runs: dict[str, list[dict]] = {c: [] for c in conditions}
                    # Interleave conditions so a noisy neighbour hits all of them alike.
                    for i in range(args.runs):
                        for name in conditions:
                            condition = CONDITIONS[name.removesuffix("-identity")]
                            run = one_run(browser, stack.base_url, case_key, condition, name.endswith("-identity"))
                            runs[name].append(run)
                            print(f"run {i + 1}/{args.runs} {name}: first page {run['first_bytes'] / 1000:.1f} KB "
                                  f"({run['first_requests']} requests), home {run['home_ms']:.0f} ms, "
                                  f"form {run['form_ms']:.0f} ms, case {run['case_ms']:.0f} ms, "
                                  f"baseline {run['baseline_ms']:.0f} ms", flush=True)
                    version = browser.version
                finally:
                    browser.close()
        finally:
            stack.stop()

    results = {name: summarise(r) for name, r in runs.items()}
    meta = {
        "day": dt.date.today().isoformat(),
        "command": "make bench" if os.environ.get("MAKELEVEL") else " ".join(["bench/web_load.py", *sys.argv[1:]]),
        "runs": args.runs,
        "chromium": version,
        "cpus": os.cpu_count(),
    }
    section = render(results, meta)
    print(section)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "runs": runs, "results": results}, indent=1))
    if args.write:
        write_into(args.write, section)
    if "slow3g" in results and not all(met for *_, met in budgets_table(results)):
        print("some budgets are not met (see above)", file=sys.stderr)


if __name__ == "__main__":
    main()
