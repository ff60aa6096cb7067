"""A real Quietline stack for browser tests: development keys made by the CLI, the server
started by `quietline serve` in a subprocess (its output captured), and Debian's Chromium
driven by Playwright. Nothing is mocked."""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from crypto.manifest import fingerprint

ROOT = Path(__file__).resolve().parents[2]
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
ARTIFACTS = ROOT / "test-artifacts"
E2E_POW_BITS = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    base_url: str
    env: dict
    keys_dir: Path
    var_dir: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def db_path(self) -> Path:
        return self.var_dir / "quietline.db"

    @property
    def blob_dir(self) -> Path:
        return self.var_dir / "blobs"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([QUIETLINE, *args], env=self.env, capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"quietline {' '.join(args)} failed ({result.returncode}): {result.stderr}{result.stdout}")
        return result

    def root_fingerprint(self) -> str:
        deployment = json.loads((self.keys_dir / "deployment.json").read_text())
        return fingerprint(base64.b64decode(deployment["root_pk"]))

    def server_log(self) -> bytes:
        return self.log_path.read_bytes()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, request):
    work = tmp_path_factory.mktemp("stack")
    keys_dir, var_dir = work / "keys", work / "var"
    port = free_port()
    env = dict(
        os.environ,
        QUIETLINE_DATABASE_URL=f"sqlite:///{var_dir / 'quietline.db'}",
        QUIETLINE_BLOB_DIR=str(var_dir / "blobs"),
        QUIETLINE_MANIFEST=str(keys_dir / "manifest.json"),
        QUIETLINE_DEPLOYMENT=str(keys_dir / "deployment.json"),
        QUIETLINE_DESK_TOKENS=str(var_dir / "desk-tokens.json"),
        QUIETLINE_CLIENT_DIR=str(ROOT / "client_web"),
        QUIETLINE_VAULT=str(var_dir / "vault"),
        QUIETLINE_VAULT_PASSPHRASE="quietline-dev",
        QUIETLINE_SYNC_CONFIG=str(var_dir / "sync.json"),
        QUIETLINE_POW_KEY_FILE=str(var_dir / "pow.key"),
    )
    # A low proof-of-work difficulty keeps the suite fast; a module sets STACK_POW_BITS = None
    # to run at the server's default (tests/e2e/test_pow.py).
    bits = getattr(request.module, "STACK_POW_BITS", E2E_POW_BITS)
    env.pop("QUIETLINE_POW_BITS", None)
    if bits is not None:
        env["QUIETLINE_POW_BITS"] = str(bits)
    made = subprocess.run(
        [QUIETLINE, "keys", "dev", "--keys-dir", str(keys_dir), "--var-dir", str(var_dir)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert made.returncode == 0, made.stderr + made.stdout
    sync = json.loads((var_dir / "sync.json").read_text())
    sync["server"] = f"http://127.0.0.1:{port}"
    (var_dir / "sync.json").write_text(json.dumps(sync))

    log_path = work / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [QUIETLINE, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base_url}/api/v1/manifest", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"server did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    yield Stack(base_url, env, keys_dir, var_dir, log_path, process)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("Debian's chromium is not installed: run `make test`, which installs it")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Recorder:
    """Everything the page sent, every console error and every CSP violation."""

    requests: list = field(default_factory=list)
    console_errors: list = field(default_factory=list)
    page_errors: list = field(default_factory=list)
    # Filled by watch(): every response's URL, status and CSP header, and console lines
    # in which Chromium reports a CSP refusal.
    responses: list = field(default_factory=list)
    csp_console: list = field(default_factory=list)

    def sent_bytes(self) -> bytes:
        out = bytearray()
        for request in self.requests:
            out += request["url"].encode()
            out += json.dumps(request["headers"]).encode()
            out += request["body"] or b""
        return bytes(out)


# Runs before any page script, in every frame and document: keeps every CSP violation the
# document or window hears of (each event once) in window.__cspViolations.
CSP_WATCH = """
(() => {
  const seen = new WeakSet();
  const kept = [];
  Object.defineProperty(window, '__cspViolations', { value: kept });
  const keep = (e) => {
    if (seen.has(e)) return;
    seen.add(e);
    kept.push({ directive: e.effectiveDirective, blocked: e.blockedURI, source: e.sourceFile,
                line: e.lineNumber, sample: e.sample, disposition: e.disposition, document: e.documentURI });
  };
  document.addEventListener('securitypolicyviolation', keep, true);
  window.addEventListener('securitypolicyviolation', keep, true);
})();
"""


def csp_violations(page) -> list[dict] | None:
    """The CSP violations CSP_WATCH collected in the page's current document since the last
    call (each is returned once); None if the watcher is not in the document."""
    return page.evaluate("() => window.__cspViolations ? window.__cspViolations.splice(0) : null")


def watch(context, recorder: Recorder | None = None) -> Recorder:
    """Records on a whole browser context (its pages and their workers): every request with
    its body, every response with its CSP header, console errors and CSP refusals, page
    errors; and installs CSP_WATCH in every document."""
    recorder = recorder or Recorder()
    context.add_init_script(CSP_WATCH)

    def on_request(request):
        recorder.requests.append(
            {"url": request.url, "method": request.method, "headers": request.headers, "body": request.post_data_buffer}
        )

    def on_console(msg):
        if msg.type == "error":
            recorder.console_errors.append(msg.text)
        if "Content Security Policy" in msg.text or "Refused to" in msg.text:
            recorder.csp_console.append(msg.text)

    def on_page(page):
        page.on("pageerror", lambda exc: recorder.page_errors.append(str(exc)))

    context.on("request", on_request)
    context.on("console", on_console)  # pages' and workers' console
    context.on("response", lambda r: recorder.responses.append(
        {"url": r.url, "status": r.status, "csp": r.headers.get("content-security-policy")}
    ))
    context.on("page", on_page)
    for existing in context.pages:
        on_page(existing)
    return recorder


@pytest.fixture
def page(chromium, stack):
    context = chromium.new_context(locale="en-US", accept_downloads=False)
    recorder = Recorder()
    page = context.new_page()

    def on_request(request):
        recorder.requests.append(
            {"url": request.url, "method": request.method, "headers": request.headers, "body": request.post_data_buffer}
        )

    page.on("request", on_request)
    page.on("console", lambda msg: msg.type == "error" and recorder.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: recorder.page_errors.append(str(exc)))
    page.recorder = recorder
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
