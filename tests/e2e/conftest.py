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
def stack(tmp_path_factory):
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
    )
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

    def sent_bytes(self) -> bytes:
        out = bytearray()
        for request in self.requests:
            out += request["url"].encode()
            out += json.dumps(request["headers"]).encode()
            out += request["body"] or b""
        return bytes(out)


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
