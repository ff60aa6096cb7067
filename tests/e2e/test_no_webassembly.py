"""Every flow works without WebAssembly (Tor Browser at "Safer" disables it; libsodium.js then
runs its asm.js build), end to end against the real server and the workstation CLI:
a new report with a multi-chunk attachment; the workstation imports and replies; the
submitter reads the verified reply, sends a follow-up with another attachment, changes a
consent answer, and withdraws (the workstation has collected the rest first: a withdrawal
deletes the case from the server); the workstation shows all of it and extracts both files
byte for byte.

Written against what a person and the focal point see (roles, labels, view ids, the JSON of
`ws show --json`), not against how the upload is done, which is changing."""

import json
import re
import secrets
from pathlib import Path

import pytest

from .conftest import ROOT, screenshot

pytestmark = pytest.mark.e2e

EN = json.loads((ROOT / "client_web" / "i18n" / "en.json").read_text(encoding="utf-8"))

# Runs before any page script, in every frame.
NO_WASM = "delete globalThis.WebAssembly"
VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'}`);
}, true);
"""
# libsodium.js keeps useBackupModule on its module object until it swaps in the asm.js
# build (as tests/vectors/test_vectors_browser.py tells the two apart).
BUILD = """() => ({
  webAssembly: typeof WebAssembly,
  build: window.libsodium ? (typeof window.libsodium.useBackupModule === 'function' ? 'wasm' : 'asmjs') : 'none',
  secretstream: !!(window.sodium && typeof window.sodium.crypto_secretstream_xchacha20poly1305_init_push === 'function'),
})"""
STORAGE = """async () => ({
  cookie: document.cookie, local: localStorage.length, session: sessionStorage.length,
  idb: (await indexedDB.databases()).length, caches: (await caches.keys()).length, url: location.href,
})"""


@pytest.fixture
def no_wasm_page(page):
    page.context.add_init_script(NO_WASM)
    page.context.add_init_script(VIOLATIONS)
    return page


def assert_without_webassembly(page):
    state = page.evaluate(BUILD)
    assert state == {"webAssembly": "undefined", "build": "asmjs", "secretstream": True}, state


def assert_clean(page, stack):
    assert page.evaluate("window.__violations") == []
    assert page.recorder.page_errors == []
    assert not [e for e in page.recorder.console_errors if "missing translation" in e or "untranslated" in e]
    assert all(r["url"].startswith(stack.base_url + "/") for r in page.recorder.requests)
    held = page.evaluate(STORAGE)
    assert (held["cookie"], held["local"], held["session"], held["idb"], held["caches"]) == ("", 0, 0, 0, 0), held
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", held["url"]), held["url"]
    assert page.locator("#error").is_hidden(), page.inner_text("#error")


def file_report(page, stack, account: str, name: str, body: bytes) -> tuple[str, str]:
    page.goto(stack.base_url + "/")
    assert page.evaluate("typeof WebAssembly") == "undefined"
    page.get_by_role("button", name="Make a new report").click()
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    assert page.inner_text("#view-report .root-fingerprint") == stack.root_fingerprint()
    assert_without_webassembly(page)

    page.get_by_label("Country where it happened").select_option("UG")
    send = page.locator("#report-send")
    for _ in range(20):  # through the steps, whatever their number; the account on its step
        if send.is_visible():
            break
        account_field = page.get_by_label("What happened? Write in any language.")
        if account_field.is_visible():
            account_field.fill(account)
        if page.locator("#report-files").is_visible():
            page.set_input_files("#report-files", files=[{"name": name, "mimeType": "application/octet-stream", "buffer": body}])
        page.get_by_role("button", name="Next").click()
    send.click()
    page.wait_for_selector("#view-key:not([hidden])", timeout=120_000)
    # The key shows at once; "I have written it down" comes back once the files are sent.
    done = page.get_by_role("button", name="I have written it down")
    done.wait_for(state="visible", timeout=120_000)
    key_view = page.inner_text("#view-key")
    if "report_stopped" in EN.get("upload", {}):
        assert EN["upload"]["report_stopped"] not in key_view
    screenshot(page, "e2e-no-wasm-case-key")
    case_key = page.inner_text("#case-key-display").strip()
    ref = page.inner_text("#receipt-text").split()[-1].lower()
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){6}[0-9A-HJKMNP-TV-Z]{4}", case_key), case_key
    done.click()
    return case_key, ref


def pull_and_import(stack, tmp_path: Path, name: str) -> None:
    bundle = tmp_path / f"{name}.qlb"
    stack.cli("sync", "pull", "--out", str(bundle))
    stack.cli("ws", "import", str(bundle))


def shown(stack, ref: str) -> dict:
    return json.loads(stack.cli("ws", "show", ref, "--json").stdout)


def test_every_flow_works_without_webassembly(no_wasm_page, stack, tmp_path):
    page = no_wasm_page
    account = f"Threatened after the session. {secrets.token_hex(4)}"
    name1, body1 = "evidence-report.bin", secrets.token_bytes(600_000)  # 3 chunks of 256 KiB
    name2, body2 = "evidence-followup.bin", secrets.token_bytes(300_000)  # 2 chunks
    reply_text = f"We received your report and are assessing it. {secrets.token_hex(4)}"
    follow_text = f"They came back to my house. {secrets.token_hex(4)}"

    # A new report, its attachment encrypted by the asm.js build.
    case_key, ref = file_report(page, stack, account, name1, body1)
    assert_without_webassembly(page)

    # The workstation imports it and replies.
    pull_and_import(stack, tmp_path, "in1")
    case = shown(stack, ref)
    assert case["report"]["country"] == "UG" and case["report"]["text"] == account
    assert [(a["name"], a["size"], a["state"]) for a in case["attachments"]] == [(name1, len(body1), "stored")]
    stack.cli("ws", "reply", ref, "--status", "assessing", "--message", reply_text)
    out = tmp_path / "out1.qlb"
    stack.cli("ws", "export", "--out", str(out))
    stack.cli("sync", "push", str(out))

    # The submitter returns and reads the reply, opened and its signature checked in the page.
    page.goto(stack.base_url + "/")
    page.get_by_role("button", name="I have a case key").click()
    page.get_by_label("Case key").fill(case_key)
    page.get_by_role("button", name="Open").click()
    page.wait_for_selector("#view-case:not([hidden])", timeout=60_000)
    assert_without_webassembly(page)
    assert page.inner_text("#case-status") == EN["status"]["assessing"]
    assert reply_text in page.inner_text("#case-replies")
    assert page.locator("#error").is_hidden(), page.inner_text("#error")  # no reply refused
    screenshot(page, "e2e-no-wasm-case-reply")

    # A follow-up with an attachment.
    page.get_by_label("Message").fill(follow_text)
    page.set_input_files("#followup-files", files=[{"name": name2, "mimeType": "application/octet-stream", "buffer": body2}])
    page.locator("#followup-form").get_by_role("button", name="Encrypt and send").click()
    page.wait_for_selector("#followup-sent:not([hidden])", timeout=120_000)

    # A consent change.
    page.click("#consent-change > summary")
    page.check("#cc-use_name-yes")
    page.get_by_role("button", name="Send my changes").click()
    page.wait_for_selector("#consent-sent:not([hidden])", timeout=60_000)

    # The workstation collects them: withdrawing deletes from the server whatever no desk
    # has pulled yet.
    pull_and_import(stack, tmp_path, "in2")

    # Withdrawal, confirmed: the case is deleted from the server at once.
    page.click("#withdraw > summary")
    page.get_by_role("button", name="I want to withdraw my report").click()
    page.get_by_role("button", name="Yes, withdraw my report").click()
    page.wait_for_selector("#withdraw-sent:not([hidden])", timeout=60_000)
    screenshot(page, "e2e-no-wasm-withdrawn")
    assert_without_webassembly(page)
    assert_clean(page, stack)

    # The workstation shows all of it.
    pull_and_import(stack, tmp_path, "in3")
    case = shown(stack, ref)
    said = [(f["text"], f["consent"], f["withdraw"]) for f in case["followups"] if f["text"] or f["consent"] or f["withdraw"]]
    assert said == [(follow_text, None, False), ("", {"use_name": "yes"}, False), ("", None, True)]
    assert case["consent"]["withdrawn"] is True
    assert [r["text"] for r in case["replies"]] == [reply_text]
    files = sorted((a["name"], a["size"], a["state"]) for a in case["attachments"])
    assert files == sorted([(name1, len(body1), "stored"), (name2, len(body2), "stored")])
    extract = tmp_path / "extract"
    stack.cli("ws", "show", ref, "--extract", str(extract))
    written = {p.name: p.read_bytes() for p in extract.iterdir() if p.is_file()}
    assert written == {name1: body1, name2: body2}

    # And nothing of it reached the server in the clear.
    sent = page.recorder.sent_bytes()
    for secret in (account, follow_text, name1, name2, case_key, case_key.replace("-", "")):
        assert secret.encode() not in sent, secret
    assert body1[:64] not in sent and body2[:64] not in sent
