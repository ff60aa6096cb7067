"""Discretion in the real browser: a neutral title in every language, a quick exit on every
view and step that replaces the page and its history entry, nothing kept on the device
(cookies, localStorage, sessionStorage, IndexedDB, Cache Storage, service workers) after any
flow, the case key in no URL, history entry or title, and no autocomplete, spell check or
autocapitalisation on the fields that hold secrets."""

import json
import re

import pytest

from .a11y import PHONE, assert_nothing_kept, file_minimal_report, history_entries, session_history
from .conftest import ROOT

pytestmark = pytest.mark.e2e

CLIENT = ROOT / "client_web"
LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")
# Words a title must not hold, in each of the six languages (lower case, matched anywhere).
TELLING = {
    "en": ["report", "un", "united nations", "reprisal", "human rights", "rights", "defender", "complaint", "abuse", "quietline"],
    "fr": ["rapport", "signalement", "onu", "nations unies", "représailles", "droits", "défenseur", "plainte"],
    "es": ["informe", "denuncia", "onu", "naciones unidas", "represalia", "derechos", "defensor", "queja"],
    "ru": ["сообщ", "доклад", "отчёт", "отчет", "оон", "объединённых наций", "объединенных наций", "репресс", "преследован", "права человека", "правозащит", "жалоб"],
    "ar": ["تقرير", "بلاغ", "إبلاغ", "الأمم المتحدة", "انتقام", "أعمال انتقامية", "حقوق الإنسان", "حقوق", "مدافع", "شكوى"],
    "zh": ["报告", "举报", "联合国", "报复", "人权", "维权", "捍卫者", "投诉"],
}
ALL_TELLING = sorted({word for words in TELLING.values() for word in words})


def catalogue(lang: str) -> dict:
    return json.loads((CLIENT / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def telling_words(title: str) -> list[str]:
    low = title.lower()
    # Latin words only as whole words ("un" is not in "Notes"), other scripts anywhere.
    return [w for w in ALL_TELLING if (re.search(rf"\b{re.escape(w)}\b", low) if w.isascii() else w in low)]


def test_the_title_is_neutral_in_every_language():
    html = (CLIENT / "index.html").read_text(encoding="utf-8")
    static = re.search(r"<title[^>]*>([^<]*)</title>", html).group(1)
    assert static and telling_words(static) == [], static
    for lang in LANGUAGES:
        title = catalogue(lang)["app"]["title"]
        assert title.strip() and telling_words(title) == [], f"{lang}: {title!r} says what this is"
    # The check itself sees such words, in every language.
    for lang, words in TELLING.items():
        assert telling_words(f"Safe {words[0]} page") or telling_words(words[0]), lang
    assert telling_words("Notes") == [] and telling_words("UN reports") != []


def test_the_browser_title_stays_neutral_on_every_view_in_every_language(page, stack):
    page.set_viewport_size(PHONE)
    page.goto(stack.base_url + "/")
    page.wait_for_selector("#view-home:not([hidden])")
    for lang in LANGUAGES:
        page.select_option("#language", lang)
        page.wait_for_selector(f"html[lang={lang}]", state="attached")
        expected = catalogue(lang)["app"]["title"]
        for view in page.eval_on_selector_all("section[id^=view-]", "els => els.map(e => e.id)"):
            page.evaluate("(id) => { for (const v of document.querySelectorAll('section[id^=view-]')) v.hidden = v.id !== id; }", view)
            assert page.title() == expected, (lang, view, page.title())
        page.evaluate("() => { for (const v of document.querySelectorAll('section[id^=view-]')) v.hidden = v.id !== 'view-home'; }")


# -- the quick exit -----------------------------------------------------------------------------


def leave_and_check(page, stack, where: str) -> None:
    box = page.locator("#leave").bounding_box() if page.locator("#leave").is_visible() else None
    # In sight without scrolling back up, wherever the person is on the page.
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= page.viewport_size["height"], f"no quick exit in sight on {where}"
    before = page.evaluate("history.length")
    index, entries = session_history(page)
    assert entries[index]["url"].startswith(stack.base_url)
    page.click("#leave")
    page.wait_for_url("about:blank")
    assert page.evaluate("history.length") <= before, f"{where}: leaving added a history entry"
    after_index, after = session_history(page)
    # The page's own entry now holds the empty page; nothing was added after it.
    assert (after_index, len(after)) == (index, len(entries)), f"{where}: {entries} -> {after}"
    assert after[index]["url"] == "about:blank" and after[index]["title"] in ("", "about:blank"), after[index]
    assert after[:index] == entries[:index]
    page.go_back()
    assert stack.base_url not in page.url, f"{where}: Back returned to the page"


def arrive(page, stack):
    page.goto("about:blank")
    page.goto(stack.base_url + "/")
    page.wait_for_selector("#view-home:not([hidden])")


def test_the_quick_exit_on_every_view_and_step_replaces_the_page_and_its_history_entry(page, stack):
    page.set_viewport_size(PHONE)
    case_key, _ = file_minimal_report(page, stack, country="BY")
    places = 0

    arrive(page, stack)
    leave_and_check(page, stack, "home")
    places += 1
    # Every view reached from the home page (the report, the key form, guidance pages...).
    arrive(page, stack)
    exits = page.eval_on_selector_all("#view-home button", "els => els.filter(e => e.getClientRects().length).length")
    for index in range(exits):
        arrive(page, stack)
        page.locator("#view-home button").nth(index).click()
        view = page.evaluate("() => [...document.querySelectorAll('section[id^=view-]')].find(s => !s.hidden).id")
        leave_and_check(page, stack, view)
        places += 1
    # Every step of the report, with something typed.
    arrive(page, stack)
    page.click("#go-report")
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    page.select_option("#country", "SY")
    steps = 0
    while True:
        step = page.evaluate("() => document.querySelector('section.step:not([hidden])').dataset.step")
        assert page.locator("#leave").is_visible(), f"no quick exit on step {step}"
        steps += 1
        if not page.locator("#step-next-button").is_visible():
            break
        page.click("#step-next-button")
    assert steps >= 9
    leave_and_check(page, stack, "the last step")
    # The key view, shown once.
    arrive(page, stack)
    file_minimal_report(page, stack, country="IR", done=False)
    leave_and_check(page, stack, "the key view")
    # The case view, with its parts open.
    arrive(page, stack)
    page.click("#go-return")
    page.fill("#case-key-input", case_key)
    page.press("#case-key-input", "Enter")
    page.wait_for_selector("#view-case:not([hidden])", timeout=30_000)
    page.click("#consent-change > summary")
    page.click("#withdraw > summary")
    page.click("#withdraw-start")
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    assert page.evaluate("window.scrollY") > 0
    leave_and_check(page, stack, "the case view")
    assert places >= 3


# -- nothing kept on the device -----------------------------------------------------------------


def test_nothing_is_kept_on_the_device_after_any_flow(page, stack):
    page.set_viewport_size(PHONE)
    visited = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and visited.append(frame.url))

    def nothing_kept(key, flow):
        try:
            assert_nothing_kept(page, [key] if key else [], visited + history_entries(page) + [page.title()])
        except AssertionError as error:
            raise AssertionError(f"after {flow}: {error}") from None

    # A new report: the key is shown, then put away.
    page.goto(stack.base_url + "/")
    page.click("#go-report")
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    page.select_option("#country", "KE")
    page.fill("#place", "Kisumu")
    while page.locator("#step-next-button").is_visible():
        page.click("#step-next-button")
    page.click("#report-send")
    page.wait_for_selector("#view-key:not([hidden])", timeout=60_000)
    case_key = page.inner_text("#case-key-display").strip()
    assert re.fullmatch(r"([0-9A-Z]{4}-){6}[0-9A-Z]{4}", case_key)
    nothing_kept(case_key, "the key is shown")
    page.click("#key-done")
    nothing_kept(case_key, "a new report")

    # Return with the key.
    page.click("#go-return")
    page.fill("#case-key-input", case_key)
    page.press("#case-key-input", "Enter")
    page.wait_for_selector("#view-case:not([hidden])", timeout=30_000)
    nothing_kept(case_key, "returning with the key")

    # A follow-up.
    page.fill("#followup-text", "More about what happened.")
    page.click("#followup-form button[type=submit]")
    page.wait_for_selector("#followup-sent:not([hidden])", timeout=30_000)
    nothing_kept(case_key, "a follow-up")

    # A consent change.
    page.click("#consent-change > summary")
    page.check("#cc-use_name-no")
    page.click("#consent-send")
    page.wait_for_selector("#consent-sent:not([hidden])", timeout=30_000)
    nothing_kept(case_key, "a consent change")

    # A language switch, with the case open.
    for lang in ("ar", "zh", "en"):
        page.select_option("#language", lang)
        page.wait_for_selector(f"html[lang={lang}]", state="attached")
        nothing_kept(case_key, f"switching to {lang}")

    # Withdrawal.
    page.click("#withdraw > summary")
    page.click("#withdraw-start")
    page.click("#withdraw-yes")
    page.wait_for_selector("#withdraw-sent:not([hidden])", timeout=30_000)
    nothing_kept(case_key, "withdrawing")

    page.click("#case-close")
    nothing_kept(case_key, "closing the case view")
    assert visited and all(not url or url.startswith(stack.base_url) for url in visited)
    assert page.recorder.page_errors == []


# -- fields that hold secrets ---------------------------------------------------------------------


FIELDS = """() => [...document.querySelectorAll('input, textarea')]
  .filter(el => !['file', 'radio', 'checkbox', 'hidden'].includes(el.type))
  .map(el => ({ id: el.id, tag: el.tagName, autocomplete: el.getAttribute('autocomplete'),
                spellcheck: el.getAttribute('spellcheck'), autocapitalize: el.getAttribute('autocapitalize'),
                form: el.form ? el.form.getAttribute('autocomplete') : null }))"""


def test_fields_that_hold_secrets_are_not_remembered_or_sent_to_a_spell_checker(page, stack):
    page.goto(stack.base_url + "/")
    page.click("#go-report")
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    page.evaluate("() => document.getElementById('add-person').click()")  # a second person's fields too
    fields = page.evaluate(FIELDS)
    ids = {f["id"] for f in fields}
    # The case key, names, and every free text are among them.
    for expected in ("case-key-input", "reporter_name", "organisation", "person-1-name", "person-2-name",
                     "place", "gender", "account", "perpetrator_detail", "followup-text", "person-1-detail"):
        assert expected in ids, expected
    for field in fields:
        assert field["autocomplete"] == "off", f"{field['id']} may be remembered by the browser"
        assert field["spellcheck"] == "false", f"{field['id']} may be sent to an online spell checker"
        assert field["form"] in (None, "off"), f"the form of {field['id']} allows autocomplete"
    key = next(f for f in fields if f["id"] == "case-key-input")
    assert key["autocapitalize"] in ("off", "characters"), key
    assert page.locator("form:not([autocomplete=off])").count() == 0
