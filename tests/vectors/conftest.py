"""Fixtures for the browser vector run: a static server for client_web/ under the production
CSP, and Debian's Chromium driven by Playwright (never a downloaded browser)."""

import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "client_web"
VECTORS = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
CSP = ("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")
# No inline script: everything the test runs arrives through page.evaluate or same-origin modules.
BLANK_PAGE = b"<!doctype html><title>t</title>"
VENDOR_FILES = ("libsodium.js", "libsodium-wrappers.js")
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json"}


@dataclass
class StaticServer:
    url: str
    requests: list[tuple[str, int]] = field(default_factory=list)


def _handler(log: list):
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
            log.append((self.path, status))
            self.send_response(status)
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 (http.server's naming)
            path = self.path.split("?", 1)[0]
            if path == "/":
                return self._send(200, BLANK_PAGE, "text/html; charset=utf-8")
            if path == "/favicon.ico":
                return self._send(204)
            # Only what the page needs: the modules, the vendored library, and the vectors.
            if path.startswith("/js/") or path.startswith("/vendor/"):
                base, rel = CLIENT, path.lstrip("/")
            elif path.startswith("/__vectors__/"):
                base, rel = VECTORS, path.removeprefix("/__vectors__/")
            else:
                return self._send(404)
            target = (base / rel).resolve()
            if base.resolve() not in target.parents or not target.is_file() or target.suffix not in TYPES:
                return self._send(404)
            return self._send(200, target.read_bytes(), TYPES[target.suffix])

        def log_message(self, *args):  # keep pytest output clean; requests are in `log`
            pass

    return Handler


@pytest.fixture(scope="session")
def vendored() -> Path:
    """client_web/vendor/, made by the project's own vendor script if it is missing."""
    vendor = CLIENT / "vendor"
    if not all((vendor / name).is_file() for name in VENDOR_FILES):
        node = shutil.which("node")
        assert node, "node is needed to run client_web/scripts/vendor.mjs (client_web/vendor/ is missing)"
        result = subprocess.run([node, str(CLIENT / "scripts" / "vendor.mjs")], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, f"vendor.mjs failed: {result.stderr}{result.stdout}"
    assert all((vendor / name).is_file() for name in VENDOR_FILES)
    return vendor


@pytest.fixture(scope="module")
def static_server(vendored):
    log: list = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(log))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StaticServer(f"http://127.0.0.1:{server.server_address[1]}", log)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def chromium():
    # Module scope, like tests/e2e: Playwright's sync API allows one instance at a time.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
