"""Proof of work in real Chromium at the server's default difficulty (this module's stack does
not lower it): a report filed through the form, with WebAssembly and without it, carries a
proof the server accepted, fetched for that purpose just before, at the default difficulty,
bound to the report's case and doing the work."""

import json
import sqlite3

import httpx
import pytest

from crypto import kdf
from crypto import pow as pw
from crypto.encoding import b64decode
from server.settings import Settings

pytestmark = pytest.mark.e2e

STACK_POW_BITS = None  # tests/e2e/conftest.py: the server's own default
DEFAULT_BITS = Settings.model_fields["pow_bits"].default
BUILD = "() => window.libsodium ? (typeof window.libsodium.useBackupModule === 'function' ? 'wasm' : 'asmjs') : 'none'"
VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.effectiveDirective), true);
"""


def file_report(page, stack) -> str:
    page.goto(stack.base_url + "/")
    page.get_by_role("button", name="Make a new report").click()
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    page.get_by_label("Country where it happened").select_option("KE")
    send = page.locator("#report-send")
    for _ in range(20):  # through the steps, whatever their number
        if send.is_visible():
            break
        page.get_by_role("button", name="Next").click()
    send.click()
    page.wait_for_selector("#view-key:not([hidden])", timeout=120_000)
    return page.inner_text("#case-key-display").strip()


def test_the_stack_runs_at_the_default_difficulty(stack):
    answer = httpx.get(stack.base_url + "/api/v1/pow", params={"purpose": "report"}).json()
    assert answer["difficulty"] == DEFAULT_BITS
    assert pw.parse_challenge(b64decode(answer["challenge"])).difficulty == DEFAULT_BITS


@pytest.mark.parametrize("webassembly", [True, False], ids=["wasm", "no-wasm"])
def test_a_report_is_filed_at_the_default_difficulty(page, stack, webassembly):
    if not webassembly:
        page.context.add_init_script("delete globalThis.WebAssembly")
    page.context.add_init_script(VIOLATIONS)
    case_key = file_report(page, stack)
    assert case_key
    assert page.evaluate(BUILD) == ("wasm" if webassembly else "asmjs")

    requests = page.recorder.requests
    posts = [i for i, r in enumerate(requests) if r["method"] == "POST" and r["url"] == stack.base_url + "/api/v1/cases"]
    asked = [i for i, r in enumerate(requests) if r["method"] == "GET" and r["url"] == stack.base_url + "/api/v1/pow?purpose=report"]
    assert len(posts) == 1 and len(asked) == 1 and asked[0] < posts[0]
    body = json.loads(requests[posts[0]]["body"])
    assert set(body["proof"]) == {"challenge", "nonce"}
    challenge = b64decode(body["proof"]["challenge"])
    parsed = pw.parse_challenge(challenge)
    assert parsed.purpose == pw.REPORT and parsed.difficulty == DEFAULT_BITS
    case_id = kdf.case_id(b64decode(body["lookup"]))
    assert pw.is_solution(challenge, pw.report_binding(case_id), body["proof"]["nonce"])
    # The page searched from 0 and sent the first counter that does the work.
    assert body["proof"]["nonce"] == pw.solve(challenge, pw.report_binding(case_id))
    with sqlite3.connect(stack.db_path) as db:
        assert db.execute("SELECT count(*) FROM cases WHERE case_id = ?", (case_id,)).fetchone() == (1,)
    assert page.evaluate("window.__violations") == []
    assert page.recorder.page_errors == []
    assert page.locator("#error").is_hidden()


def test_a_report_whose_answer_was_lost_then_whose_challenge_expired_still_ends_well(page, stack):
    """The first POST reaches the server but its answer is lost; the retry (the same proof) is
    told the challenge has expired; the page fetches a new challenge, solves it, sends again,
    is told the case exists, and shows the case key: the report was filed once."""
    proofs = []

    def handle(route):
        proofs.append(json.loads(route.request.post_data)["proof"])
        if len(proofs) == 1:
            route.fetch()  # the server files the report ...
            route.abort("connectionreset")  # ... and the answer never arrives
        elif len(proofs) == 2:
            route.fulfill(status=400, content_type="application/json",
                          body=json.dumps({"error": {"code": "pow_expired", "message": "the challenge has expired"}}))
        else:
            route.continue_()

    page.route(stack.base_url + "/api/v1/cases", handle)
    case_key = file_report(page, stack)
    assert case_key
    assert len(proofs) == 3 and proofs[0] == proofs[1] and proofs[2]["challenge"] != proofs[1]["challenge"]
    asked = [r for r in page.recorder.requests if r["url"] == stack.base_url + "/api/v1/pow?purpose=report"]
    assert len(asked) == 2
    lookup = b64decode(json.loads(next(r["body"] for r in page.recorder.requests
                                       if r["method"] == "POST" and r["url"].endswith("/api/v1/cases")))["lookup"])
    with sqlite3.connect(stack.db_path) as db:
        assert db.execute("SELECT count(*) FROM cases WHERE case_id = ?", (kdf.case_id(lookup),)).fetchone() == (1,)
    assert page.locator("#error").is_hidden()
    assert page.recorder.page_errors == []
