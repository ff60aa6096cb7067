"""The two guidance pages (staying safe; what happens to a report) in every language, in real
Chromium at phone size, reached with the keyboard only: from the home page, and from the
discreet link under a view (here a report step, whose typed answer is still there on
"Back"). Every text is the language's own (nothing missing, nothing left in English), the
page fits a phone, links nowhere outside, and opening a page adds no history entry."""

import json

import pytest

from .conftest import ROOT, screenshot

pytestmark = pytest.mark.e2e

CLIENT = ROOT / "client_web"
LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")
PHONE = {"width": 360, "height": 740}


def catalogue(lang: str) -> dict:
    return json.loads((CLIENT / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def tab_to(page, selector: str, limit: int = 80) -> int:
    """Press Tab until the element matching `selector` has focus; returns how many presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return presses
    raise AssertionError(f"{selector} is not reachable with Tab")


def assert_translated(page, view: str, lang: str):
    cat, english = catalogue(lang)["guide"], catalogue("en")["guide"]
    texts = page.eval_on_selector_all(f"#view-{view} [data-i18n]", "els => els.map(e => [e.dataset.i18n, e.innerText])")
    assert len(texts) >= 10, texts
    for key, text in texts:
        section, name = key.split(".", 1)
        assert section == "guide", key
        assert text == cat[name], f"{lang}:{key} shows {text!r}"
        if lang != "en":
            assert text != english[name], f"{lang}:{key} is still in English"
    assert page.locator(f"#view-{view} a").count() == 0, "the guide links nowhere"
    assert "http" not in page.inner_text(f"#view-{view}")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_both_guides_by_keyboard_in_every_language(page, stack, lang):
    page.set_viewport_size(PHONE)
    page.goto(stack.base_url + "/")
    page.wait_for_selector("#view-home:not([hidden])")
    if lang != "en":
        page.select_option("#language", lang)
        page.wait_for_selector(f"html[lang={lang}]", state="attached")
    history = page.evaluate("history.length")
    cat = catalogue(lang)["guide"]
    if lang in ("en", "ar"):
        screenshot(page, f"guide-{lang}-home")

    # From the home page: Tab to "Staying safe", Enter.
    assert page.locator("[data-guide=safety]:visible").count() == 1, "one link each on the home page, not two"
    page.evaluate("document.activeElement && document.activeElement.blur()")
    tab_to(page, "#view-home [data-guide=safety]")
    assert page.evaluate("document.activeElement.innerText") == cat["safety_link"]
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-safety:not([hidden])")
    assert page.locator("#view-home").is_hidden()
    assert page.evaluate("document.activeElement.id || document.activeElement.closest('section').id") == "view-safety"
    assert page.evaluate("document.activeElement.tagName") == "H1"
    assert_translated(page, "safety", lang)
    if lang in ("en", "ar"):
        screenshot(page, f"guide-{lang}-safety")
    tab_to(page, "#view-safety .guide-back")
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-home:not([hidden])")

    # From a report step, by the discreet link under the view; Back keeps what was typed.
    page.click("#go-report")
    page.wait_for_selector("#view-report:not([hidden])")
    page.fill("#place", "Mombasa")
    page.focus("#place")
    tab_to(page, "footer [data-guide=after]")
    assert page.evaluate("document.activeElement.innerText") == cat["after_link"]
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-after:not([hidden])")
    assert page.locator("#view-report").is_hidden()
    assert page.evaluate("document.activeElement.tagName") == "H1"
    assert_translated(page, "after", lang)
    if lang in ("en", "ar"):
        screenshot(page, f"guide-{lang}-after")
    tab_to(page, "#view-after .guide-back")
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-report:not([hidden])")
    assert page.locator("#step-where").is_visible() and page.input_value("#place") == "Mombasa"

    assert page.evaluate("history.length") == history, "a guide page must not add a history entry"
    assert page.evaluate("location.hash") == ""
    assert page.recorder.page_errors == []
    assert [e for e in page.recorder.console_errors if "missing translation" in e] == []

