"""The first page a visitor sees is small, and the crypto library comes only when a flow
starts. Sizes and requests only (never times: the machine is shared); the budgets are
bench/budgets.json, the same ones bench/web_load.py reports in docs/BENCHMARKS.md.

Bytes are what crossed the wire as Chromium's DevTools Protocol counts them
(encodedDataLength: headers and the compressed body). The static client is gzip-compressed;
API responses never are (their length could otherwise leak secret-derived content)."""

import json
import secrets
import time

import httpx
import pytest

from .conftest import ROOT

pytestmark = pytest.mark.e2e

BUDGETS = json.loads((ROOT / "bench" / "budgets.json").read_text())


class Wire:
    """Every request of one page, by phase, with its bytes on the wire."""

    def __init__(self, page):
        self.phase = "first"
        self.requests: dict[str, dict] = {}
        cdp = page.context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        self.cdp = cdp

    def _sent(self, event):
        self.requests.setdefault(event["requestId"], {"url": event["request"]["url"], "phase": self.phase, "bytes": None})

    def _finished(self, event):
        if event["requestId"] in self.requests:
            self.requests[event["requestId"]]["bytes"] = int(event["encodedDataLength"])

    def of(self, phase):
        return [r for r in self.requests.values() if r["phase"] == phase]

    def settle(self, page, phase, quiet_s=0.5, timeout_s=30):
        """Until every request of the phase finished and none started for quiet_s."""
        deadline = time.monotonic() + timeout_s
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            page.wait_for_timeout(100)
            state = [(r["url"], r["bytes"]) for r in self.of(phase)]
            if state != last:
                last, since = state, time.monotonic()
            elif all(b is not None for _, b in state) and time.monotonic() - since >= quiet_s:
                return
        raise AssertionError(f"requests of phase {phase} never settled: {last}")


def first_page(page, stack) -> Wire:
    wire = Wire(page)
    page.goto(stack.base_url + "/")
    page.wait_for_selector("#view-home:not([hidden])")
    wire.settle(page, "first")
    return wire


def describe(requests) -> str:
    return "\n".join(f"  {r['bytes']:>7} {r['url']}" for r in requests)


def test_first_page_is_within_the_byte_and_request_budget(page, stack):
    wire = first_page(page, stack)
    first = wire.of("first")
    total = sum(r["bytes"] for r in first)
    assert total <= BUDGETS["first_page_kb"] * 1000, (
        f"first page is {total / 1000:.1f} KB on the wire, budget {BUDGETS['first_page_kb']} KB "
        f"(bench/budgets.json):\n{describe(first)}"
    )
    assert len(first) <= BUDGETS["first_page_requests"], f"{len(first)} requests:\n{describe(first)}"
    assert all(r["url"].startswith(stack.base_url + "/") for r in first)


@pytest.mark.parametrize("button", ["Make a new report", "I have a case key"])
def test_libsodium_loads_only_when_a_flow_starts(page, stack, button):
    wire = first_page(page, stack)
    first = wire.of("first")
    assert not [r for r in first if "/vendor/" in r["url"]], f"the first page loaded vendor code:\n{describe(first)}"
    assert page.evaluate("typeof window.libsodium === 'undefined' && typeof window.sodium === 'undefined'")
    assert page.locator("script[src*='/vendor/']").count() == 0

    # Starting a flow brings it: the check above would see it if the first page did.
    wire.phase = "flow"
    page.get_by_role("button", name=button).click()
    page.wait_for_selector(".root-fingerprint:not(:empty)", state="attached")
    wire.settle(page, "flow")
    vendor = sorted(r["url"].rsplit("/", 1)[-1] for r in wire.of("flow") if "/vendor/" in r["url"])
    assert vendor == ["libsodium-wrappers.js", "libsodium.js"], describe(wire.of("flow"))
    assert page.evaluate("typeof window.sodium.crypto_secretstream_xchacha20poly1305_init_push") == "function"


def test_static_client_is_compressed_and_the_api_never_is(stack):
    gzip = {"Accept-Encoding": "gzip"}
    with httpx.Client(base_url=stack.base_url, headers=gzip, timeout=30) as client:
        for path in ("/", "/js/app.js", "/css/app.css", "/i18n/en.json", "/vendor/libsodium.js"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers.get("content-encoding") == "gzip", path
            assert response.num_bytes_downloaded < len(response.content) * 0.6, path  # httpx decompressed it
            assert "content-security-policy" in response.headers and response.headers["cache-control"] == "no-store"
        # Without Accept-Encoding: identity, byte for byte the file.
        plain = httpx.get(stack.base_url + "/js/app.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.content == (ROOT / "client_web" / "js" / "app.js").read_bytes()

        api = [
            client.get("/api/v1/manifest"),
            client.get("/deployment.json"),
            client.get("/api/openapi.json"),
            client.post("/api/v1/cases/lookup", json={"lookup": secrets.token_urlsafe(16)}),
            client.post("/api/v1/uploads", json={"chunks": 1}),
            client.get("/api/v1/nothing-here"),
        ]
        for response in api:
            assert "content-encoding" not in response.headers, (response.request.url, response.headers)
        assert len(api[2].content) > 1000  # large enough that gzip would have applied
