"""Resumable uploads in real Chromium against the real server (docs/PROTOCOL.md, "Resumable
attachments"): a new report is filed first and its files follow as the case's first
follow-up; a connection cut mid-upload (chunk PUTs aborted by page.route) is retried and the
upload completes; a reload mid-upload, then the case opened with the key and the same file
chosen again, sends only the missing chunks; a server refusal (4xx) is explained and not
retried; a file over the limit is refused before any work; and a large file is encrypted
and sent while the page's JavaScript memory stays far below its size. Each file reaches the
workstation byte for byte."""

import json
import os
import re
import time
from pathlib import Path

import pytest

from crypto.padding import chunk_count_bucket

from .conftest import ROOT, screenshot

pytestmark = pytest.mark.e2e

PHONE = {"width": 360, "height": 740}
CHUNK = 256 * 1024
PUT_CHUNK = re.compile(r"/api/v1/uploads/([0-9a-f]{32})/chunks/(\d+)$")
BIG_MB = int(os.environ.get("QUIETLINE_BIG_UPLOAD_MB", "200"))


def catalogue(lang: str) -> dict:
    return json.loads((ROOT / "client_web" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def make_file(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    with path.open("wb") as out:
        left = size
        while left:
            piece = min(left, 8 * 1024 * 1024)
            out.write(os.urandom(piece))
            left -= piece
    return path


def chunk_puts(page, upload_only: bool = True) -> list[tuple[str, int]]:
    out = []
    for r in page.recorder.requests:
        m = PUT_CHUNK.search(r["url"])
        if r["method"] == "PUT" and m:
            out.append((m.group(1), int(m.group(2))))
    return out


def start_report_with_files(page, stack, paths, lang="en"):
    page.set_viewport_size(PHONE)
    page.goto(stack.base_url + "/")
    if lang != "en":
        page.select_option("#language", lang)
        page.wait_for_selector(f"html[lang={lang}]", state="attached")
    page.click("#go-report")
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    page.select_option("#country", "KE")
    for _ in range(6):  # where -> un -> what -> urgency -> who -> more -> evidence
        page.click("#step-next-button")
    assert page.locator("#step-evidence").is_visible()
    page.set_input_files("#report-files", [str(p) for p in paths])


def send_report(page):
    for _ in range(2):  # evidence -> consent -> what happens next
        page.click("#step-next-button")
    page.click("#report-send")
    page.wait_for_selector("#view-key:not([hidden])", timeout=60_000)
    case_key = page.inner_text("#case-key-display").strip()
    ref = page.inner_text("#receipt-text").split()[-1].lower()
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){6}[0-9A-HJKMNP-TV-Z]{4}", case_key), case_key
    return case_key, ref


def wait_status(page, container: str, kind: str, timeout: float = 120_000):
    page.wait_for_selector(f"#{container} .upload-status[data-kind={kind}]", timeout=timeout)


def open_case(page, stack, case_key: str):
    page.set_viewport_size(PHONE)
    page.goto(stack.base_url + "/")
    page.click("#go-return")
    page.fill("#case-key-input", case_key)
    page.click("#return-form button[type=submit]")
    page.wait_for_selector("#view-case:not([hidden])", timeout=30_000)


def workstation_files(stack, tmp_path: Path, ref: str, name: str) -> tuple[dict, list[bytes]]:
    bundle = tmp_path / f"{name}.qlb"
    stack.cli("sync", "pull", "--out", str(bundle))
    stack.cli("ws", "import", str(bundle))
    case = json.loads(stack.cli("ws", "show", ref, "--json").stdout)
    extract = tmp_path / f"{name}-files"
    stack.cli("ws", "show", ref, "--extract", str(extract))
    return case, [p.read_bytes() for p in sorted(extract.rglob("*")) if p.is_file()]


def no_page_problems(page):
    assert page.recorder.page_errors == []
    assert [e for e in page.recorder.console_errors if "missing translation" in e or "untranslated" in e] == []


def bar_values(page, selector: str) -> list[int]:
    return page.eval_on_selector_all(selector, "bars => bars.map(b => b.value)")


# -- a dropped connection -----------------------------------------------------------------------


def test_a_connection_cut_mid_upload_is_retried_and_the_file_arrives_intact(page, stack, tmp_path):
    body_path = make_file(tmp_path, "evidence-video.bin", 5 * 1024 * 1024 + 12_345)  # 21 chunks -> bucket 24
    chunks = 24
    state = {"ok": 0, "aborted": 0}
    aborted = []

    def cut(route):
        # Six chunks go through, then the connection drops for three attempts, then comes back.
        if state["ok"] >= 6 and state["aborted"] < 3:
            state["aborted"] += 1
            aborted.append(int(PUT_CHUNK.search(route.request.url).group(2)))
            route.abort("internetdisconnected")
            return
        state["ok"] += 1
        route.continue_()

    start_report_with_files(page, stack, [body_path])
    assert "1 GB" in page.inner_text("#report-files-limit"), "the size limit is shown before anything is sent"
    screenshot(page, "uploads-en-phone-evidence-limit")
    page.route(PUT_CHUNK, cut)
    case_key, ref = send_report(page)
    # The key is shown at once, with the note, while the files are still being sent.
    english = catalogue("en")["upload"]
    assert page.inner_text("#key-uploads .upload-intro") == english["report_in"]
    assert page.locator("#key-done").is_hidden(), "the key view waits for the files before it can be left"

    wait_status(page, "key-uploads", "retrying", timeout=60_000)
    assert page.inner_text("#key-uploads .upload-status") == english["retrying"]
    screenshot(page, "uploads-en-phone-connection-lost")
    seen = set()
    deadline = time.monotonic() + 120
    while not page.locator("#key-uploads .upload-status[data-kind=finished]").count():
        seen.update(bar_values(page, "#key-uploads .upload-file progress"))
        assert time.monotonic() < deadline, "the upload did not finish"
        page.wait_for_timeout(50)
    assert page.inner_text("#key-uploads .upload-status") == english["report_done"]
    assert bar_values(page, "#key-uploads .upload-file progress") == [1000]
    assert len({v for v in seen if 0 < v < 1000}) >= 2, f"the progress bar did not move: {sorted(seen)}"
    text = page.inner_text("#key-uploads .upload-file-text")
    assert text == english["sent"].format(total="5 MB"), text
    screenshot(page, "uploads-en-phone-files-sent")
    page.click("#key-done")

    puts = chunk_puts(page)
    upload_ids = {u for u, _ in puts}
    assert len(upload_ids) == 1
    (upload_id,) = upload_ids
    # Every chunk reached the server once; the three cut attempts were sent again after
    # the page asked the server which chunks it holds.
    assert state == {"ok": chunks, "aborted": 3}
    assert sorted(i for _, i in puts) == sorted(list(range(chunks)) + aborted)
    asked = [r for r in page.recorder.requests if r["method"] == "GET" and r["url"].endswith(f"/api/v1/uploads/{upload_id}")]
    assert len(asked) == 3

    case, files = workstation_files(stack, tmp_path, ref, "cut")
    assert files == [body_path.read_bytes()]
    # The report came first, without attachments; the file is the case's first follow-up.
    assert len(case["followups"]) == 1 and case["followups"][0]["text"] == ""
    assert [(a["name"], a["parent"], a["size"]) for a in case["attachments"]] == [("evidence-video.bin", 1, body_path.stat().st_size)]
    assert b"evidence-video" not in page.recorder.sent_bytes()
    no_page_problems(page)


# -- a reload mid-upload ------------------------------------------------------------------------


def test_after_a_reload_the_same_file_chosen_again_sends_only_the_missing_chunks(page, stack, tmp_path):
    body_path = make_file(tmp_path, "recording.bin", 4 * 1024 * 1024)  # 16 chunks
    chunks, before = 16, 6
    stalled = []
    passed = {"n": 0, "stall": True}

    def stall(route):
        if passed["n"] < before or not passed["stall"]:
            passed["n"] += 1
            route.continue_()
        else:
            stalled.append(route)  # never answered: the network went quiet

    start_report_with_files(page, stack, [body_path])
    page.route(PUT_CHUNK, stall)
    case_key, ref = send_report(page)
    deadline = time.monotonic() + 60
    while not stalled:
        assert time.monotonic() < deadline, "the upload never reached the stalled chunk"
        page.wait_for_timeout(50)
    page.wait_for_function(
        f"() => document.querySelector('#key-uploads .upload-file progress').value >= {before * 1000 // chunks}"
    )
    screenshot(page, "uploads-en-phone-before-reload")
    page.reload()  # the page forgets everything; only the person has the key and the file
    for route in stalled:
        try:
            route.abort()
        except Exception:  # noqa: BLE001 - the request died with the page
            pass
    passed["stall"] = False
    page.wait_for_selector("#view-home:not([hidden])")
    sent_before = len(chunk_puts(page))

    open_case(page, stack, case_key)
    page.set_input_files("#followup-files", [str(body_path)])
    page.click("#followup-form button[type=submit]")
    wait_status(page, "followup-uploads", "continuing", timeout=60_000)
    screenshot(page, "uploads-en-phone-continuing")
    page.wait_for_selector("#followup-sent:not([hidden])", timeout=120_000)
    assert page.locator("#followup-uploads").is_hidden()

    after = chunk_puts(page)[sent_before:]
    assert sorted(i for _, i in after) == list(range(before, chunks)), after
    assert len({u for u, _ in chunk_puts(page)}) == 1, "the same upload was continued, not a new one"

    case, files = workstation_files(stack, tmp_path, ref, "reload")
    assert files == [body_path.read_bytes()]
    assert len(case["followups"]) == 1, "the interrupted first follow-up was never sent; this one is the first"
    assert [(a["name"], a["parent"]) for a in case["attachments"]] == [("recording.bin", 1)]
    no_page_problems(page)


# -- a refusal ----------------------------------------------------------------------------------


def test_a_server_refusal_is_explained_in_the_persons_language_and_not_retried(page, stack, tmp_path):
    start_report_with_files(page, stack, [])
    case_key, ref = send_report(page)
    page.click("#key-done")  # no files: nothing to wait for
    body_path = make_file(tmp_path, "letter.pdf", 300_000)  # 2 chunks
    tries = {"n": 0}

    def damage(route):
        # A broken middlebox cuts one byte off the second chunk: the real server refuses it.
        if route.request.url.endswith("/chunks/1"):
            tries["n"] += 1
            route.continue_(post_data=route.request.post_data_buffer[:-1])
        else:
            route.continue_()

    open_case(page, stack, case_key)
    page.select_option("#language", "ar")
    page.wait_for_selector("html[dir=rtl]", state="attached")
    page.route(PUT_CHUNK, damage)
    page.set_input_files("#followup-files", [str(body_path)])
    page.fill("#followup-text", "رسالة")
    page.click("#followup-form button[type=submit]")
    wait_status(page, "followup-uploads", "stopped", timeout=60_000)
    arabic = catalogue("ar")["upload"]
    status = page.inner_text("#followup-uploads .upload-status")
    assert status == f"{arabic['error_refused']} {arabic['followup_stopped']}"
    page.wait_for_timeout(2500)  # longer than the first backoff: nothing is tried again
    assert tries["n"] == 1, "a refusal must not be retried"
    assert not [r for r in page.recorder.requests if r["url"].endswith("/followups")], "nothing was filed"
    screenshot(page, "uploads-ar-phone-refused")
    page.select_option("#language", "en")
    page.wait_for_selector("html[dir=ltr]", state="attached")
    english = catalogue("en")["upload"]
    assert page.inner_text("#followup-uploads .upload-status") == f"{english['error_refused']} {english['followup_stopped']}"

    # Sending again continues: only the refused chunk goes.
    page.unroute(PUT_CHUNK)
    before = len(chunk_puts(page))
    page.click("#followup-form button[type=submit]")
    page.wait_for_selector("#followup-sent:not([hidden])", timeout=60_000)
    assert [i for _, i in chunk_puts(page)[before:]] == [1]
    case, files = workstation_files(stack, tmp_path, ref, "refused")
    assert files == [body_path.read_bytes()]
    assert case["followups"][0]["text"] == "رسالة"
    no_page_problems(page)


def test_a_file_over_the_limit_is_refused_before_any_work(page, stack, tmp_path):
    huge = tmp_path / "too-big.mov"
    with huge.open("wb") as out:  # sparse: 1 GiB + 1 byte on no disk space
        out.truncate(4096 * CHUNK + 1)
    start_report_with_files(page, stack, [huge])
    error = page.locator("#report-files-error")
    assert error.is_visible()
    assert error.inner_text() == catalogue("en")["upload"]["too_large_file"].format(name="\u2068too-big.mov\u2069", size="1 GB")
    screenshot(page, "uploads-en-phone-too-large")
    page.select_option("#language", "ar")
    page.wait_for_selector("html[dir=rtl]", state="attached")
    assert "too-big.mov" in error.inner_text() and error.inner_text() != catalogue("en")["upload"]["too_large_file"]
    screenshot(page, "uploads-ar-phone-too-large")
    page.select_option("#language", "en")
    page.wait_for_selector("html[dir=ltr]", state="attached")
    for _ in range(2):
        page.click("#step-next-button")
    page.click("#report-send")
    assert page.locator("#step-evidence").is_visible(), "sending goes back to the step with the file"
    assert error.is_visible()
    assert not [r for r in page.recorder.requests if r["method"] in ("POST", "PUT")], "nothing may be sent"


# -- memory -------------------------------------------------------------------------------------


def test_a_large_file_is_sent_with_little_memory(page, stack, tmp_path):
    size = BIG_MB * 1024 * 1024
    big = make_file(tmp_path, "large.bin", size)
    start_report_with_files(page, stack, [big], lang="ar")
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    base = cdp.send("Runtime.getHeapUsage")
    base_all = base["usedSize"] + base.get("backingStorageSize", 0)
    started = time.monotonic()
    case_key, ref = send_report(page)
    peak_used = peak_all = 0
    page.wait_for_function("() => document.querySelector('#key-uploads .upload-file progress').value > 100", timeout=120_000)
    screenshot(page, "uploads-ar-phone-key-sending")
    while not page.locator("#key-uploads .upload-status[data-kind=finished]").count():
        usage = cdp.send("Runtime.getHeapUsage")
        # usedSize: the JS heap; backingStorageSize: ArrayBuffers (file slices, chunks,
        # libsodium's WebAssembly memory), where a file read whole would show.
        peak_used = max(peak_used, usage["usedSize"])
        peak_all = max(peak_all, usage["usedSize"] + usage.get("backingStorageSize", 0))
        assert not page.locator("#key-uploads .upload-status[data-kind=stopped]").count(), page.inner_text("#key-uploads")
        assert time.monotonic() - started < 600
        page.wait_for_timeout(100)
    elapsed = time.monotonic() - started
    report = {
        "file_mb": BIG_MB, "seconds": round(elapsed, 1),
        "base_js_heap_mb": round(base["usedSize"] / 2**20, 1), "base_heap_and_buffers_mb": round(base_all / 2**20, 1),
        "peak_js_heap_mb": round(peak_used / 2**20, 1), "peak_heap_and_buffers_mb": round(peak_all / 2**20, 1),
    }
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "uploads-memory.json").write_text(json.dumps(report, indent=2) + "\n")
    print(report)
    assert "backingStorageSize" in base, "this Chromium does not report ArrayBuffer memory"
    # The file's bytes pass through in 256 KiB pieces: the JS heap barely moves, and the
    # buffers stay under a bound set by V8 collecting them (about 64 MiB of garbage), not by
    # the file: a file read whole would hold all its bytes at once.
    assert peak_used < 16 * 2**20, report
    assert peak_all < 96 * 2**20, report
    if size >= 192 * 2**20:
        assert peak_all < size / 2, report
    puts = chunk_puts(page)
    assert sorted(i for _, i in puts) == list(range(chunk_count_bucket(-(-size // CHUNK))))
