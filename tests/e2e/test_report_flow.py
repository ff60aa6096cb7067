"""Steps 2 to 4 of the end-to-end path in real Chromium, with canaries everywhere:
file a report with an attachment, import and reply on the workstation, read the reply in
the browser, send a follow-up with another attachment, and import that. Then prove that no
canary (nor the case key) reached the server's database, blob store, log, or the wire."""

import json
import re
import secrets
import sqlite3
from pathlib import Path

import pytest

from .conftest import screenshot

pytestmark = pytest.mark.e2e

STORAGE_PROBE = """async () => ({
  cookie: document.cookie,
  local: localStorage.length,
  session: sessionStorage.length,
  idb: (await indexedDB.databases()).length,
  caches: (await caches.keys()).length,
  url: location.href,
  history: history.length,
})"""


def canary(label: str) -> str:
    return f"CANARY-{label}-{secrets.token_hex(6)}"


def everything_the_server_holds(stack) -> bytes:
    blob = bytearray()
    for path in sorted(stack.var_dir.rglob("*")):
        # the vault belongs to the (here co-located) workstation, not the server
        if path.is_file() and "vault" not in path.parts and "bundles" not in path.parts:
            blob += path.read_bytes()
    blob += stack.server_log()
    return bytes(blob)


def assert_nothing_on_device(page, context_cookies) -> None:
    state = page.evaluate(STORAGE_PROBE)
    assert state["cookie"] == "" and context_cookies == []
    assert state["local"] == 0 and state["session"] == 0
    assert state["idb"] == 0 and state["caches"] == 0
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", state["url"]), state["url"]


def file_report(page, stack, place, account, attachment_name, attachment_bytes) -> tuple[str, str]:
    # The form is in steps (where and when, the UN, what happened, urgency, who, more,
    # evidence, consent, what happens next); the country is a list, so the free-text
    # canary goes into the place.
    page.goto(stack.base_url + "/")
    page.get_by_role("button", name="Make a new report").click()
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    assert page.inner_text("#view-report .root-fingerprint") == stack.root_fingerprint()
    page.get_by_label("Country where it happened").select_option("KE")
    page.get_by_label("Place", exact=True).fill(place)
    next_button = page.get_by_role("button", name="Next")
    next_button.click()  # -> contact with the UN
    next_button.click()  # -> what happened
    page.get_by_label("What happened? Write in any language.").fill(account)
    for _ in range(4):  # urgency, who, more, evidence
        next_button.click()
    page.set_input_files("#report-files", files=[{"name": attachment_name, "mimeType": "text/plain", "buffer": attachment_bytes}])
    screenshot(page, "e2e-en-report-form")
    next_button.click()  # -> consent
    next_button.click()  # -> what happens next
    page.get_by_role("button", name="Encrypt and send").click()
    page.wait_for_selector("#view-key:not([hidden])", timeout=60_000)
    # The report is filed first and its key shown at once; the file follows under it.
    page.wait_for_selector("#key-uploads .upload-status[data-kind=finished]", timeout=60_000)
    screenshot(page, "e2e-en-case-key")
    case_key = page.inner_text("#case-key-display").strip()
    receipt = page.inner_text("#receipt-text")
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){6}[0-9A-HJKMNP-TV-Z]{4}", case_key), case_key
    return case_key, receipt


def pull_and_import(stack, tmp_path: Path, name: str) -> str:
    bundle = tmp_path / f"{name}.qlb"
    stack.cli("sync", "pull", "--out", str(bundle))
    return stack.cli("ws", "import", str(bundle)).stdout


def test_report_reply_and_followup_round_trip(page, stack, tmp_path):
    place, account = canary("COUNTRY"), canary("ACCOUNT") + " — détention arbitraire, 拘留, احتجاز"
    name1, body1 = canary("FILENAME") + ".txt", (canary("ATTACHMENT") + "\n").encode() * 40_000  # ~1.1 MB: 5 chunks → bucket 6
    reply_text = canary("REPLY")
    follow_text = canary("FOLLOWUP")
    name2, body2 = canary("FILENAME2") + ".txt", (canary("ATTACHMENT2") + "\n").encode()

    # 2. The submitter files a report and is shown the case key once.
    case_key, receipt = file_report(page, stack, place, account, name1, body1)
    assert_nothing_on_device(page, page.context.cookies())
    page.get_by_role("button", name="I have written it down").click()
    assert page.inner_text("#case-key-display") == ""

    # 3. The focal point pulls, imports, reads, replies and pushes.
    # The report went without uploads; its attachment is the case's first follow-up.
    posts = {r["url"].rsplit("/api/v1/", 1)[1]: json.loads(r["body"]) for r in page.recorder.requests if r["method"] == "POST" and r["url"].endswith(("/cases", "/followups"))}
    assert posts["cases"]["uploads"] == [] and len(posts["cases/followups"]["uploads"]) == 1

    imported = pull_and_import(stack, tmp_path, "in1")
    assert "1" in imported
    cases = stack.cli("ws", "cases").stdout
    short = receipt.split()[-1].lower()
    assert short in cases.lower(), (receipt, cases)
    extract = tmp_path / "extract1"
    shown = stack.cli("ws", "show", short, "--extract", str(extract)).stdout
    assert place in shown and account.split()[0] in shown
    extracted = [p for p in extract.rglob("*") if p.is_file()]
    assert len(extracted) == 1 and extracted[0].read_bytes() == body1
    as_json = json.loads(stack.cli("ws", "show", short, "--json").stdout)
    assert [(f["seq"], f["text"]) for f in as_json["followups"]] == [(1, "")]
    assert [(a["name"], a["parent"]) for a in as_json["attachments"]] == [(name1, 1)]

    stack.cli("ws", "reply", short, "--status", "more_information_needed", "--message", reply_text)
    out_bundle = tmp_path / "out1.qlb"
    stack.cli("ws", "export", "--out", str(out_bundle))
    pushed = stack.cli("sync", "push", str(out_bundle)).stdout
    assert "1" in pushed

    with sqlite3.connect(stack.db_path) as db:
        envelopes = db.execute("select count(*) from cases where report_envelope is not null").fetchone()[0]
    assert envelopes == 0, "the imported report's ciphertext must be deleted once acknowledged"
    assert not [p for p in stack.blob_dir.rglob("*") if p.is_file()], "acknowledged attachment chunks must be deleted"

    # 4. The submitter returns, typing the key sloppily, and reads the verified reply.
    page.goto(stack.base_url + "/")
    page.get_by_role("button", name="I have a case key").click()
    page.get_by_label("Case key").fill(case_key.lower().replace("-", " "))
    page.get_by_role("button", name="Open").click()
    page.wait_for_selector("#view-case:not([hidden])", timeout=30_000)
    assert page.inner_text("#case-status") == "More information needed"
    assert reply_text in page.inner_text("#case-replies")
    screenshot(page, "e2e-en-case-with-reply")

    page.get_by_label("Message").fill(follow_text)
    page.set_input_files("#followup-files", files=[{"name": name2, "mimeType": "text/plain", "buffer": body2}])
    page.get_by_role("button", name="Encrypt and send").click()
    page.wait_for_selector("#followup-sent:not([hidden])", timeout=60_000)
    assert_nothing_on_device(page, page.context.cookies())

    pull_and_import(stack, tmp_path, "in2")
    extract2 = tmp_path / "extract2"
    shown = stack.cli("ws", "show", short, "--extract", str(extract2)).stdout
    assert follow_text in shown
    assert body2 in [p.read_bytes() for p in extract2.rglob("*") if p.is_file()]

    # Nothing secret reached the server or the wire.
    canaries = [place, account.split()[0], name1, name2, reply_text, follow_text, "CANARY-ATTACHMENT", case_key]
    canaries.append(case_key.replace("-", ""))
    held = everything_the_server_holds(stack)
    sent = page.recorder.sent_bytes()
    assert page.recorder.requests, "the recorder saw no request"
    assert any(r["method"] == "PUT" for r in page.recorder.requests), "attachment chunks were not captured"
    for value in canaries:
        assert value.encode() not in held, f"{value} reached the server"
        assert value.encode() not in sent, f"{value} left the browser"
    assert b"127.0.0.1" not in stack.server_log()
    assert page.recorder.page_errors == []
    assert [e for e in page.recorder.console_errors if "missing translation" in e] == []
    assert all(r["url"].startswith(stack.base_url) for r in page.recorder.requests)


def test_language_switch_needs_no_reload_and_arabic_is_right_to_left(page, stack):
    catalogue = json.loads(Path("client_web/i18n/ar.json").read_text(encoding="utf-8"))
    page.goto(stack.base_url + "/")
    page.wait_for_selector("#view-home:not([hidden])")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.select_option("#language", "ar")
    page.wait_for_selector("html[dir=rtl][lang=ar]", state="attached")
    assert page.evaluate("document.documentElement.lang") == "ar"
    assert page.inner_text("#view-home h1") == catalogue["home"]["heading"]
    assert page.title() == catalogue["app"]["title"]
    screenshot(page, "e2e-ar-home")
    page.select_option("#language", "zh")
    page.wait_for_selector("html[dir=ltr][lang=zh]", state="attached")
    assert navigations == [], "switching language must not reload the page"


def test_no_form_field_could_carry_a_secret_into_a_url(page, stack):
    # Belt and braces beside CSP form-action 'none': even a native form submission
    # (if scripts failed) would have no named field to put in a query string.
    page.goto(stack.base_url + "/")
    assert page.locator("form input[name], form textarea[name], form select[name]").count() == 0
    assert page.locator("form[action], form[method]").count() == 0


def test_mistyped_case_key_is_explained(page, stack):
    page.goto(stack.base_url + "/")
    page.get_by_role("button", name="I have a case key").click()
    page.get_by_label("Case key").fill("0RFE-H1JK-9155-QPXR-Q2F5-HGBV-NBV3")
    page.get_by_role("button", name="Open").click()
    error = page.locator("#case-key-error")
    error.wait_for(state="visible")
    assert error.inner_text() == "The case key has a typing mistake. Check each character."
    assert page.get_by_label("Case key").get_attribute("aria-invalid") == "true"
    assert not [r for r in page.recorder.requests if "/lookup" in r["url"]], "a mistyped key must not be sent"


def test_unknown_case_key_is_explained(page, stack):
    # A well-formed key with no case behind it: the server answers 200 with found: false
    # (the same size as a found case), and the page explains it as before.
    from crypto import casekey

    with page.expect_response(lambda r: r.url.endswith("/api/v1/cases/lookup")) as answer:
        page.goto(stack.base_url + "/")
        page.get_by_role("button", name="I have a case key").click()
        page.get_by_label("Case key").fill(casekey.encode(casekey.generate()))
        page.get_by_role("button", name="Open").click()
    assert answer.value.status == 200
    assert answer.value.json()["found"] is False
    error = page.locator("#case-key-error")
    error.wait_for(state="visible")
    assert error.inner_text() == "No case was found for this key. Check it and try again."
    assert page.get_by_label("Case key").get_attribute("aria-invalid") == "true"
    assert page.locator("#view-case").is_hidden()
    assert page.locator("#error").is_hidden()
