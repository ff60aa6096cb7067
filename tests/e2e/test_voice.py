"""A voice message recorded in the page, in real Chromium with its fake microphone (a tone):
recorded for about two seconds on the evidence step, played back, sent encrypted with the
report, and received on the workstation as a non-empty audio file of the type MediaRecorder
gave; then in the case view's "Add information": recorded, deleted, recorded again, sent.
The microphone is asked for only when "Record" is pressed and released when recording
stops. A refused microphone is explained in plain, translated words."""

import json
import re
import time

import pytest
from playwright.sync_api import sync_playwright

from .conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, screenshot

pytestmark = pytest.mark.e2e

CLIENT = ROOT / "client_web"
PHONE = {"width": 360, "height": 740}
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

# Counts the page's microphone requests and keeps the streams it got, to see them released.
# It calls the browser's own getUserMedia: nothing is replaced.
WATCH_MICROPHONE = """
(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  window.__microphone = { asked: 0, streams: [] };
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    window.__microphone.asked += 1;
    const stream = await real(constraints);
    window.__microphone.streams.push(stream);
    return stream;
  };
})();
"""
MIC_LIVE = "() => window.__microphone.streams.flatMap(s => s.getTracks()).filter(t => t.readyState === 'live').length"


def catalogue(lang: str) -> dict:
    return json.loads((CLIENT / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def playwright():
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def media_browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_MEDIA)
    yield browser
    browser.close()


@pytest.fixture
def media_page(media_browser, stack):
    context = media_browser.new_context(locale="en-US", accept_downloads=False, viewport=PHONE)
    page = context.new_page()
    page.add_init_script(WATCH_MICROPHONE)
    page.errors, page.console_errors = [], []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    yield page
    context.close()


def record(page, root: str, seconds: float) -> str:
    page.click(f"{root} .voice-record")
    page.wait_for_selector(f"{root} .voice-stop:visible")
    status = page.locator(f"{root} .voice-status")
    assert re.fullmatch(r"Recording… 0:0\d \(up to 10:00\)", status.inner_text()), status.inner_text()
    time.sleep(seconds)
    page.wait_for_function(f"document.querySelector('{root} .voice-status').textContent.includes('0:02')")
    assert page.evaluate(MIC_LIVE) == 1, "the microphone is open while recording"
    page.click(f"{root} .voice-stop")
    page.wait_for_selector(f"{root} .voice-discard:visible")
    assert page.evaluate(MIC_LIVE) == 0, "the microphone must be released when recording stops"
    assert page.locator(f"{root} .voice-record").is_hidden()
    playback = page.locator(f"{root} .voice-playback")
    assert playback.is_visible() and playback.get_attribute("src").startswith("blob:")
    # The recording plays back in the page.
    duration = page.wait_for_function(
        f"(() => {{ const a = document.querySelector('{root} .voice-playback'); return a.readyState >= 1 && a.duration; }})()"
    ).json_value()
    assert duration == float("inf") or duration > 1, duration  # a MediaRecorder WebM has no duration field
    return status.inner_text()


def imported(stack, tmp_path, ref: str, name: str):
    bundle = tmp_path / f"{name}.qlb"
    stack.cli("sync", "pull", "--out", str(bundle))
    stack.cli("ws", "import", str(bundle))
    shown = json.loads(stack.cli("ws", "show", ref, "--json").stdout)
    extract = tmp_path / name
    stack.cli("ws", "show", ref, "--extract", str(extract))
    return shown, {p.name: p for p in extract.rglob("*") if p.is_file()}


def assert_audio(path, kind: str):
    data = path.read_bytes()
    assert len(data) > 2000, f"{path.name} is only {len(data)} bytes"
    magic = {"audio/webm": b"\x1a\x45\xdf\xa3", "audio/ogg": b"OggS"}.get(kind)
    if magic:
        assert data.startswith(magic), data[:8]


def test_a_voice_message_is_recorded_sent_and_received(media_page, stack, tmp_path):
    page = media_page
    page.goto(stack.base_url + "/")
    page.get_by_role("button", name="Make a new report").click()
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    page.get_by_label("Country where it happened").select_option("KE")
    for _ in range(6):
        page.click("#step-next-button")
    assert page.locator("#step-evidence").is_visible()
    assert page.inner_text("#report-voice .voice-limit") == "A recording can be up to 10 minutes long."
    assert page.evaluate("window.__microphone.asked") == 0, "the microphone is asked for only on Record"

    status = record(page, "#report-voice", 2.2)
    assert re.fullmatch(r"Recorded: 0:0[23]\. You can listen to it\. It will be encrypted and sent with the rest\.", status), status
    assert page.evaluate("window.__microphone.asked") == 1
    assert page.inner_text("#report-voice .voice-live") == status, "a screen reader is told the recording is ready"
    screenshot(page, "voice-en-recorded")
    page.select_option("#language", "ar")
    page.wait_for_selector("html[dir=rtl][lang=ar]", state="attached")
    assert page.inner_text("#report-voice .voice-discard") == catalogue("ar")["voice"]["discard"]
    assert page.inner_text("#report-voice .voice-status").startswith(catalogue("ar")["voice"]["ready"].split("{time}")[0])
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "voice-ar-recorded")
    page.select_option("#language", "en")
    page.wait_for_selector("html[dir=ltr][lang=en]", state="attached")

    page.click("#step-next-button")
    page.click("#step-next-button")
    page.click("#report-send")
    page.wait_for_selector("#view-key:not([hidden])", timeout=60_000)
    case_key = page.inner_text("#case-key-display").strip()
    ref = page.inner_text("#receipt-text").split()[-1].lower()
    page.click("#key-done")

    shown, files = imported(stack, tmp_path, ref, "report")
    [voice] = [a for a in shown["attachments"] if a["name"].startswith("voice-message.")]
    kind = voice["type"]
    assert kind in ("audio/webm", "audio/ogg", "audio/mp4"), kind
    assert voice["name"] == "voice-message." + {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a"}[kind]
    assert voice["state"] == "stored"
    assert_audio(files[voice["name"]], kind)

    # The case view: record, delete, record again, send with "Add information".
    page.get_by_role("button", name="I have a case key").click()
    page.get_by_label("Case key").fill(case_key)
    page.get_by_role("button", name="Open").click()
    page.wait_for_selector("#view-case:not([hidden])", timeout=30_000)
    record(page, "#followup-voice", 2.2)
    page.click("#followup-voice .voice-discard")
    assert page.inner_text("#followup-voice .voice-status") == "The recording was deleted."
    assert page.locator("#followup-voice .voice-playback").is_hidden()
    assert page.locator("#followup-voice .voice-playback").get_attribute("src") is None
    record(page, "#followup-voice", 2.2)
    screenshot(page, "voice-en-followup")
    page.click("#followup-form button[type=submit]")
    page.wait_for_selector("#followup-sent:not([hidden])", timeout=60_000)
    assert page.locator("#followup-voice .voice-playback").is_hidden(), "sent: the recording is forgotten"
    assert page.locator("#followup-voice .voice-record").is_visible()

    shown, files = imported(stack, tmp_path, ref, "followup")
    voices = [a for a in shown["attachments"] if a["name"].startswith("voice-message")]
    assert len(voices) == 2 and all(a["type"] == kind and a["state"] == "stored" for a in voices), voices
    for path in files.values():
        assert_audio(path, kind)
    assert page.evaluate("window.__microphone.asked") == 3 and page.evaluate(MIC_LIVE) == 0
    assert page.errors == []
    assert [e for e in page.console_errors if "missing translation" in e] == []


def test_a_refused_microphone_is_explained(playwright, stack):
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS + ["--use-fake-device-for-media-stream", "--deny-permission-prompts"]
    )
    try:
        page = browser.new_page(locale="en-US", viewport=PHONE)
        page.goto(stack.base_url + "/")
        page.get_by_role("button", name="Make a new report").click()
        page.get_by_label("Country where it happened").select_option("KE")
        for _ in range(6):
            page.click("#step-next-button")
        page.click("#report-voice .voice-record")
        status = page.locator("#report-voice .voice-status")
        expected = catalogue("en")["voice"]["error_denied"]
        page.wait_for_function(
            "text => document.querySelector('#report-voice .voice-status').textContent === text", arg=expected
        )
        assert "voice-problem" in status.get_attribute("class")
        assert page.inner_text("#report-voice .voice-live") == expected
        assert page.locator("#report-voice .voice-record").is_visible() and page.locator("#report-voice .voice-record").is_enabled()
        assert page.locator("#report-voice .voice-playback").is_hidden()
        screenshot(page, "voice-en-denied")
        page.select_option("#language", "ar")
        page.wait_for_selector("html[dir=rtl][lang=ar]", state="attached")
        assert status.inner_text() == catalogue("ar")["voice"]["error_denied"]
        screenshot(page, "voice-ar-denied")
    finally:
        browser.close()
