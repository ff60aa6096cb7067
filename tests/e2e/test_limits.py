"""Per-case follow-up limits and storage quotas as a person meets them, in real Chromium
against a real `quietline serve` started with tiny limits (one follow-up per case per day,
room for one unfiled chunk): each refusal is explained in the person's language at once,
not retried, and nothing else is sent."""

import json

import pytest

from .conftest import ROOT, screenshot
from .test_uploads import make_file, open_case, send_report, start_report_with_files, wait_status

pytestmark = pytest.mark.e2e

CHUNK_CIPHERTEXT = 262_161


@pytest.fixture(scope="module", autouse=True)
def tiny_limits():
    # Read by the module's `stack` (conftest), which copies the environment when it starts.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUIETLINE_FOLLOWUPS_PER_CASE_PER_DAY", "1")
        mp.setenv("QUIETLINE_UNFILED_UPLOAD_QUOTA_BYTES", str(CHUNK_CIPHERTEXT))
        yield


def errors(lang: str) -> dict:
    return json.loads((ROOT / "client_web" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))["errors"]


def posts(page, path: str) -> int:
    return len([r for r in page.recorder.requests if r["method"] == "POST" and r["url"].endswith(path)])


def test_a_full_server_and_a_case_at_its_limit_are_explained_and_not_retried(page, stack, tmp_path):
    start_report_with_files(page, stack, [])
    case_key, _ref = send_report(page)
    page.click("#key-done")
    open_case(page, stack, case_key)

    # A two-chunk file does not fit the room left for unfiled uploads: 507 storage_full.
    page.select_option("#language", "ar")
    page.wait_for_selector("html[dir=rtl]", state="attached")
    page.set_input_files("#followup-files", [str(make_file(tmp_path, "photo.jpg", 300_000))])
    page.fill("#followup-text", "رسالة مع ملف")
    page.click("#followup-form button[type=submit]")
    wait_status(page, "followup-uploads", "stopped", timeout=60_000)
    assert errors("ar")["storage_full"] in page.inner_text("#followup-uploads .upload-status")
    page.wait_for_timeout(2500)  # longer than the first backoff: nothing is tried again
    assert posts(page, "/api/v1/uploads") == 1
    assert posts(page, "/api/v1/cases/followups") == 0
    screenshot(page, "limits-ar-storage-full")

    # Words alone: the day's one follow-up goes; the next is refused with followup_limit.
    page.select_option("#language", "en")
    page.wait_for_selector("html[dir=ltr]", state="attached")
    page.set_input_files("#followup-files", [])
    page.fill("#followup-text", "Something else happened.")
    page.click("#followup-form button[type=submit]")
    page.wait_for_selector("#followup-sent:not([hidden])", timeout=60_000)
    page.fill("#followup-text", "And one more thing.")
    page.click("#followup-form button[type=submit]")
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert page.inner_text("#error") == errors("en")["followup_limit"]
    assert page.get_attribute("#error", "data-code") == "followup_limit"
    page.wait_for_timeout(2500)
    assert posts(page, "/api/v1/cases/followups") == 2, "a refusal must not be retried"
    screenshot(page, "limits-en-followup-limit")
    assert page.recorder.page_errors == []
    assert [e for e in page.recorder.console_errors if "untranslated" in e] == []
