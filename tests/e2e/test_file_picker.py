"""The file chooser speaks the page's language, not the browser's: Chromium names its native
button and its "no file chosen" line in the browser's locale, so the page hides the native
input from sight (still focusable and labelled) and shows a translated stand-in."""

import json
from pathlib import Path

import pytest

from .conftest import ROOT, screenshot

pytestmark = pytest.mark.e2e

PHONE = {"width": 360, "height": 740}


def catalogue(lang: str) -> dict:
    return json.loads((ROOT / "client_web" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))["upload"]


def to_evidence_step(page, stack):
    page.set_viewport_size(PHONE)
    page.goto(stack.base_url + "/")
    page.get_by_role("button", name="Make a new report").click()
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    page.select_option("#country", "KE")
    while not page.locator("#step-evidence").is_visible():
        page.click("#step-next-button")


def test_the_file_chooser_is_in_the_pages_language_and_counts_the_chosen_files(page, stack):
    # The browser runs in English (conftest: locale en-US); the page is switched to Arabic.
    to_evidence_step(page, stack)
    page.select_option("#language", "ar")
    page.wait_for_selector("html[lang=ar]", state="attached")
    ar, fr = catalogue("ar"), catalogue("fr")
    button = page.locator("label.file-button[for=report-files]")
    assert button.inner_text() == ar["choose"] and button.is_visible()
    assert page.inner_text("#report-files-chosen") == ar["no_files"]
    box = page.locator("#report-files").bounding_box()
    assert box["width"] <= 1 and box["height"] <= 1, "the native (browser-language) control must not show"

    page.set_input_files("#report-files", files=[
        {"name": "a.txt", "mimeType": "text/plain", "buffer": b"one"},
        {"name": "b.txt", "mimeType": "text/plain", "buffer": b"two"},
    ])
    assert page.inner_text("#report-files-chosen") == ar["files_chosen"].replace("{count}", "2")
    screenshot(page, "file-picker-ar-two-files")
    page.select_option("#language", "fr")
    page.wait_for_selector("html[lang=fr]", state="attached")
    assert button.inner_text() == fr["choose"]
    assert page.inner_text("#report-files-chosen") == fr["files_chosen"].replace("{count}", "2")

    # Keyboard users reach the hidden input itself, and see the focus on its stand-in.
    page.focus("#step-evidence .step-heading")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "report-files":
            break
    assert page.evaluate("document.activeElement.id") == "report-files"
    outline = page.evaluate("getComputedStyle(document.querySelector('label.file-button[for=report-files]')).outlineStyle")
    assert outline == "solid"
    assert page.evaluate("document.getElementById('report-files').labels.length") >= 1


def test_a_reset_form_says_no_file_is_chosen(page, stack):
    to_evidence_step(page, stack)
    page.set_input_files("#report-files", files=[{"name": "a.txt", "mimeType": "text/plain", "buffer": b"one"}])
    en = catalogue("en")
    assert page.inner_text("#report-files-chosen") == en["files_chosen"].replace("{count}", "1")
    page.evaluate("document.getElementById('report-form').reset()")
    page.wait_for_function(
        "text => document.getElementById('report-files-chosen').textContent === text", arg=en["no_files"]
    )
