"""WCAG 2.1 AA in the real browser: axe-core (rules tagged wcag2a, wcag2aa, wcag21a,
wcag21aa, colour contrast included) over every view, step and state in all six languages,
each field named and each error tied to its field, keyboard-only filing with focus always
visible, and reflow at 320 px with text at 200 %. Screenshots of every state in English and
Arabic go to test-artifacts/a11y-<lang>-<state>.png.

The sweep finds what to look at from the page itself, so views and steps added later are
covered: every visible `section[id^=view-]` reachable from the home page, every
`section.step` of the report, every <details> opened, every question answered (which
reveals what depends on an answer), the errors a step shows when Next cannot go on, the
key view, a case with a reply, its follow-up, consent change and withdrawal states. A view
the walk cannot reach is still checked, shown on its own."""

import json
import struct
import zlib

import pytest

from . import a11y
from .conftest import CHROMIUM, CHROMIUM_ARGS, Recorder
from .a11y import PHONE, describe, file_minimal_report, field_problems, focus_state, horizontal_overflow, run_axe

pytestmark = pytest.mark.e2e

LANGUAGES = ("ar", "en", "es", "fr", "ru", "zh")
SCREENSHOT_LANGUAGES = ("en", "ar")


def tiny_png() -> bytes:
    """A real 2×2 PNG, made here: enough for any photo handling the evidence step has."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x80\x20\x20" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


EVIDENCE = [
    {"name": "note.txt", "mimeType": "text/plain", "buffer": b"what I saw\n"},
    {"name": "photo.png", "mimeType": "image/png", "buffer": tiny_png()},
]


# -- a case with a reply from the focal point, shared by the sweeps -----------------------------


@pytest.fixture(scope="module")
def replied_case(chromium, stack, tmp_path_factory):
    """The case key of a case the focal point has answered (real workstation, real push)."""
    work = tmp_path_factory.mktemp("a11y-case")
    context = chromium.new_context(locale="en-US")
    page = context.new_page()
    key, ref = file_minimal_report(page, stack)
    context.close()
    stack.cli("sync", "pull", "--out", str(work / "in.qlb"))
    stack.cli("ws", "import", str(work / "in.qlb"))
    stack.cli("ws", "reply", ref, "--status", "more_information_needed", "--message",
              "We have read your report. Can you tell us the month it happened?")
    stack.cli("ws", "export", "--out", str(work / "out.qlb"))
    stack.cli("sync", "push", str(work / "out.qlb"))
    return key


# -- a browser with Chromium's fake microphone, so voice recording is swept too -----------------


@pytest.fixture(scope="module")
def media_chromium(chromium):
    browser = chromium.browser_type.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS + ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    yield browser
    browser.close()


@pytest.fixture
def sweep_page(media_chromium):
    context = media_chromium.new_context(locale="en-US", accept_downloads=False)
    page = context.new_page()
    page.recorder = Recorder()
    page.on("console", lambda msg: msg.type == "error" and page.recorder.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.recorder.page_errors.append(str(exc)))
    yield page
    context.close()


# -- the sweep ----------------------------------------------------------------------------------


VISIBLE_VIEW = "() => { const v = [...document.querySelectorAll('section[id^=view-]')].find(s => !s.hidden); return v ? v.id : null; }"
HOME_EXITS = "#view-home button, #view-home a[href]"
VISIBLE_STEP = "() => { const s = [...document.querySelectorAll('section.step')].find(s => !s.hidden && s.getClientRects().length); return s ? s.dataset.step : null; }"


class Sweep:
    def __init__(self, page, lang):
        self.page, self.lang = page, lang
        self.states: list[str] = []
        self.failures: list[str] = []
        self.views_seen: set[str] = set()

    def check(self, state: str) -> None:
        page = self.page
        page.wait_for_timeout(30)  # let a transition's focus and text settle
        self.states.append(state)
        view = page.evaluate(VISIBLE_VIEW)
        if view:
            self.views_seen.add(view)
        violations = run_axe(page)
        if violations:
            self.failures.append(f"[{self.lang} {state}] axe:\n{describe(violations)}")
        fields = field_problems(page)
        if fields["problems"]:
            self.failures.append(f"[{self.lang} {state}] fields: " + "; ".join(fields["problems"]))
        # The quick exit is on every view and step, at the top, without scrolling.
        leave = page.locator("#leave")
        box = leave.bounding_box() if leave.is_visible() else None
        if not box or box["y"] + box["height"] > page.viewport_size["height"]:
            self.failures.append(f"[{self.lang} {state}] the quick-exit control is not visible at the top")
        if horizontal_overflow(page):
            self.failures.append(f"[{self.lang} {state}] scrolls sideways: {horizontal_overflow(page)}")
        missing = [e for e in page.recorder.console_errors if "missing translation" in e or "untranslated" in e]
        if missing:
            self.failures.append(f"[{self.lang} {state}] {missing}")
            page.recorder.console_errors.clear()
        if self.lang in SCREENSHOT_LANGUAGES:
            a11y.screenshot(page, f"a11y-{self.lang}-{state}")

    def open_details(self, prefix: str) -> None:
        """Opens every visible closed <details>, one at a time (nested ones too), checking each."""
        for _ in range(20):
            closed = self.page.locator("section[id^=view-]:not([hidden]) details:not([open]):visible > summary")
            if closed.count() == 0:
                return
            summary = closed.first
            ident = summary.evaluate("s => s.parentElement.id || 'details'")
            summary.click()
            self.check(f"{prefix}-open-{ident}")

    def voice(self, scope: str, prefix: str) -> None:
        """Records a short voice message wherever the view offers one: recording, then recorded."""
        for n, root in enumerate(self.page.locator(f"{scope} .voice").all()):
            if not root.locator(".voice-record").is_visible():
                continue
            root.locator(".voice-record").click()
            root.locator(".voice-stop").wait_for(state="visible")
            self.page.wait_for_timeout(1100)
            self.check(f"{prefix}-voice-recording")
            root.locator(".voice-stop").click()
            root.locator(".voice-discard").wait_for(state="visible")
            self.check(f"{prefix}-voice-recorded")

    def answer_everything(self, scope: str) -> bool:
        """Ticks every box and picks the last answer of every single choice in `scope`: what
        depends on an answer (a date, the victim's step, a clear button) appears."""
        page = self.page
        changed = page.evaluate(
            """(scope) => {
              let changed = false;
              const root = document.querySelector(scope);
              for (const box of root.querySelectorAll('input[type=checkbox]')) {
                if (box.getClientRects().length && !box.checked) { box.click(); changed = true; }
              }
              for (const question of root.querySelectorAll('fieldset.question.single')) {
                const radios = [...question.querySelectorAll('input[type=radio]')].filter(r => r.closest('fieldset.question') === question);
                const last = radios[radios.length - 1];
                if (last && last.getClientRects().length && !last.checked) { last.click(); changed = true; }
              }
              return changed;
            }""",
            scope,
        )
        return changed

    def fix_errors(self) -> None:
        """Gives the answers a step's errors ask for, from the page: the first real choice of
        an invalid list, a whole date where a date is invalid."""
        page = self.page
        page.evaluate(
            """() => {
              const fire = (el) => el.dispatchEvent(new Event('change', { bubbles: true }));
              for (const el of document.querySelectorAll('[aria-invalid=true]')) {
                const scope = el.closest('fieldset.date-parts') || el;
                for (const input of scope.querySelectorAll('input.year')) { input.value = String(new Date().getFullYear() + 1); fire(input); }
                const selects = scope.matches('select') ? [scope] : [...scope.querySelectorAll('select')];
                for (const select of selects) { if (!select.value && select.options.length > 1) { select.selectedIndex = 1; fire(select); } }
              }
            }"""
        )


def walk(page, stack, lang: str, case_key: str) -> Sweep:
    sweep = Sweep(page, lang)
    page.set_viewport_size(PHONE)

    def home():
        page.goto(stack.base_url + "/")
        page.wait_for_selector("#view-home:not([hidden])")
        if lang != "en":
            page.select_option("#language", lang)
            page.wait_for_selector(f"html[lang={lang}]", state="attached")

    home()
    sweep.check("home")
    sweep.open_details("home")

    # Every other way out of the home page (safety guidance, help, ...): each view it leads to.
    others = page.eval_on_selector_all(
        HOME_EXITS,
        "els => els.map((e, i) => [i, e]).filter(([, e]) => e.getClientRects().length && !['go-report', 'go-return'].includes(e.id)).map(([i]) => i)",
    )
    for index in others:
        home()
        page.locator(HOME_EXITS).nth(index).click()
        page.wait_for_timeout(100)
        view = (page.evaluate(VISIBLE_VIEW) or "view-home").removeprefix("view-")
        if view == "home":
            continue
        sweep.check(view)
        sweep.open_details(view)

    # The report, step by step.
    home()
    page.click("#go-report")
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    seen = []
    for _ in range(30):
        step = page.evaluate(VISIBLE_STEP)
        assert step, "no step is shown"
        seen.append(step)
        n = len(seen)
        prefix = f"step-{n}-{step}"
        sweep.check(prefix)
        sweep.open_details(prefix)
        scope = f"section.step[data-step='{step}']"
        if page.locator(f"{scope} input[type=file]").count():
            for files in page.locator(f"{scope} input[type=file]").all():
                files.set_input_files(files=EVIDENCE)
            page.wait_for_timeout(300)
            sweep.check(f"{prefix}-files")
        sweep.voice(scope, prefix)
        if page.locator(f"{scope} #add-person").is_visible():
            page.click("#add-person")
            page.locator(f"{scope} .person-name").last.fill("A.")  # a person with no "who is this"
        if sweep.answer_everything(scope):
            sweep.check(f"{prefix}-answered")
            sweep.open_details(f"{prefix}-answered")
        if not page.locator("#step-next-button").is_visible():
            break
        for year in page.locator(f"{scope} fieldset.date-parts input.year:visible").all():
            year.fill("19")  # a year cut short: the step explains it
        page.click("#step-next-button")
        if page.evaluate(VISIBLE_STEP) == step:
            # Next could not go on: the step shows what to fix.
            sweep.check(f"{prefix}-error")
            sweep.fix_errors()
            page.click("#step-next-button")
            if page.evaluate(VISIBLE_STEP) == step:
                # e.g. the date on the first step, once the country is chosen
                sweep.check(f"{prefix}-error-2")
                sweep.fix_errors()
                page.click("#step-next-button")
            assert page.evaluate(VISIBLE_STEP) != step, f"stuck on step {step}: {field_problems(page)}"
    assert "victim" in seen and seen[0] == "where" and seen[-1] == "next", seen

    page.click("#report-send")
    page.wait_for_selector("#view-key:not([hidden])", timeout=60_000)
    sweep.check("key")
    page.click("#key-done")

    # The returning submitter: a mistyped key, then the real one.
    page.wait_for_selector("#view-home:not([hidden])")
    page.click("#go-return")
    page.wait_for_selector("#view-return .root-fingerprint:not(:empty)")
    sweep.check("return")
    page.fill("#case-key-input", "0RFE-H1JK-9155-QPXR-Q2F5-HGBV-NBV3")
    page.press("#case-key-input", "Enter")
    page.wait_for_selector("#case-key-error:not([hidden])")
    sweep.check("return-error")
    page.fill("#case-key-input", case_key)
    page.press("#case-key-input", "Enter")
    page.wait_for_selector("#view-case:not([hidden])", timeout=30_000)
    assert page.locator("#case-replies li").count() >= 1
    sweep.check("case-reply")

    # Follow-up: sent empty (explained), then with words.
    page.click("#followup-form button[type=submit]")
    page.wait_for_timeout(100)
    sweep.check("case-followup-empty")
    sweep.voice("#followup-form", "case-followup")
    page.fill("#followup-text", "The month was March.")
    page.click("#followup-form button[type=submit]")
    page.wait_for_selector("#followup-sent:not([hidden])", timeout=30_000)
    sweep.check("case-followup-sent")

    # Consent change: opened, nested parts opened, nothing chosen, then one answer sent.
    sweep.open_details("case")  # consent change, the victim's part, withdrawal
    page.click("#consent-send")
    page.wait_for_selector("#consent-error:not([hidden])")
    sweep.check("case-consent-nothing")
    if sweep.answer_everything("#consent-change"):
        sweep.check("case-consent-answered")
    page.click("#consent-send")
    page.wait_for_selector("#consent-sent:not([hidden])", timeout=30_000)
    sweep.check("case-consent-sent")

    # Withdrawal: the confirmation, then withdrawn. A withdrawal deletes the case from the
    # server, so it is swept on a case of its own (the replied case serves every language).
    own_key, _ = file_minimal_report(page, stack)
    if lang != "en":
        page.select_option("#language", lang)
        page.wait_for_selector(f"html[lang={lang}]", state="attached")
    page.click("#go-return")
    page.fill("#case-key-input", own_key)
    page.press("#case-key-input", "Enter")
    page.wait_for_selector("#view-case:not([hidden])", timeout=30_000)
    page.click("#withdraw > summary")
    page.click("#withdraw-start")
    sweep.check("case-withdraw-confirm")
    page.click("#withdraw-yes")
    page.wait_for_selector("#withdraw-sent:not([hidden])", timeout=30_000)
    sweep.check("case-withdrawn")

    # Any view the walk did not reach (a transient one, or one added later): shown on its own.
    all_views = page.eval_on_selector_all("section[id^=view-]", "els => els.map(e => e.id)")
    for view in all_views:
        if view in sweep.views_seen:
            continue
        page.evaluate(
            """(id) => { for (const v of document.querySelectorAll('section[id^=view-]')) v.hidden = v.id !== id;
                        document.getElementById('error').hidden = true; }""",
            view,
        )
        sweep.check(f"{view.removeprefix('view-')}-shown")
    return sweep


@pytest.mark.parametrize("lang", LANGUAGES)
def test_axe_finds_no_violation_on_any_page_or_state(sweep_page, stack, replied_case, lang):
    page = sweep_page
    sweep = walk(page, stack, lang, replied_case)
    print(f"\n{lang}: {len(sweep.states)} states: {', '.join(sweep.states)}")
    assert len(sweep.states) >= 30, sweep.states
    assert not sweep.failures, "\n".join(sweep.failures)
    assert page.recorder.page_errors == []


# -- keyboard only ------------------------------------------------------------------------------


def assert_focus_shown(page, where: str) -> None:
    state = focus_state(page)
    assert not state["lost"], f"{where}: focus was lost to the page"
    assert state["visible"] and state["shown"], f"{where}: focus on {state['what']} is not visible ({state})"


def key(page, name: str, where: str = "") -> None:
    page.keyboard.press(name)
    assert_focus_shown(page, f"after {name} {where}")


def tab_to(page, selector: str, shift: bool = False, limit: int = 120) -> None:
    """Tab (or Shift+Tab) until `selector` has focus; focus must be visible at every stop."""
    for _ in range(limit):
        key(page, "Shift+Tab" if shift else "Tab", f"towards {selector}")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def next_by_keyboard(page, step: str) -> None:
    tab_to(page, "#step-next-button")
    key(page, "Enter")
    page.wait_for_selector(f"#step-{step}:not([hidden])")
    assert page.evaluate("document.activeElement.classList.contains('step-heading')"), "focus is not on the new step's heading"
    assert_focus_shown(page, f"step {step}")


def test_a_report_is_filed_and_a_case_worked_with_the_keyboard_alone(page, stack, tmp_path):
    page.set_viewport_size(PHONE)
    page.goto(stack.base_url + "/")
    page.wait_for_selector("#view-home:not([hidden])")
    tab_to(page, "#go-report")
    key(page, "Enter")
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    assert_focus_shown(page, "first step")

    tab_to(page, "#country")
    page.keyboard.type("Kenya")
    assert page.input_value("#country") == "KE"
    tab_to(page, "#place")
    page.keyboard.type("Kisumu")
    tab_to(page, "#date-year")
    page.keyboard.type("2024")
    key(page, "Tab")
    assert page.evaluate("document.activeElement.id") == "date-month"
    for _ in range(3):
        key(page, "ArrowDown")
    assert page.input_value("#date-month") == "03"
    next_by_keyboard(page, "un")

    tab_to(page, "#engagement-cooperated")
    key(page, "Space")
    key(page, "ArrowDown")  # the next answer replaces the first
    assert page.is_checked("#engagement-sought_to_cooperate") and not page.is_checked("#engagement-cooperated")
    tab_to(page, "#un_bodies-hrc_session")
    key(page, "Space")
    tab_to(page, "#un_bodies-special_procedure")
    key(page, "Space")
    key(page, "Shift+Tab")  # back one, and forward again
    assert page.evaluate("document.activeElement.id") == "un_bodies-upr"
    key(page, "Tab")
    next_by_keyboard(page, "what")

    tab_to(page, "#reprisal_types-surveillance")
    key(page, "Space")
    tab_to(page, "#account")
    page.keyboard.type("They followed me home after the session.")
    next_by_keyboard(page, "urgency")
    tab_to(page, "#urgency-imminent_threat")
    key(page, "Space")
    next_by_keyboard(page, "who")
    tab_to(page, "#reporter_role-victim")
    key(page, "Space")
    tab_to(page, "#person-1-relation")
    key(page, "ArrowDown")
    assert page.input_value("#person-1-relation") == "self"
    for step in ("more", "evidence", "consent"):
        next_by_keyboard(page, step)
    tab_to(page, "#rc-use_information-yes")
    key(page, "Space")
    tab_to(page, "#rc-state_action-private")
    key(page, "Space")
    tab_to(page, "#rc-referral-ngos-yes")
    key(page, "Space")
    next_by_keyboard(page, "next")
    tab_to(page, "#report-send")
    page.keyboard.press("Enter")
    page.wait_for_selector("#view-key:not([hidden])", timeout=60_000)
    assert_focus_shown(page, "the key view")
    case_key = page.inner_text("#case-key-display").strip()
    ref = page.inner_text("#receipt-text").split()[-1].lower()
    tab_to(page, "#key-done")
    key(page, "Enter")
    page.wait_for_selector("#view-home:not([hidden])")

    # The workstation received exactly what was chosen with the keyboard.
    stack.cli("sync", "pull", "--out", str(tmp_path / "kb.qlb"))
    stack.cli("ws", "import", str(tmp_path / "kb.qlb"))
    report = json.loads(stack.cli("ws", "show", ref, "--json").stdout)["report"]
    assert report["country"] == "KE" and report["place"] == "Kisumu" and report["date"] == "2024-03"
    assert report["engagement"] == "sought_to_cooperate"
    assert report["un_bodies"] == ["hrc_session", "special_procedure"]
    assert report["reprisal_types"] == ["surveillance"] and report["urgency"] == ["imminent_threat"]
    assert report["text"] == "They followed me home after the session."
    assert report["reporter_role"] == "victim" and report["affected"] == [{"relation": "self"}]
    assert report["consent"] == {"use_information": "yes", "state_action": "private", "referral": {"ngos": "yes"}}

    # Back with the key: a consent change and a withdrawal, still by keyboard.
    tab_to(page, "#go-return")
    key(page, "Enter")
    page.wait_for_selector("#view-return:not([hidden])")
    tab_to(page, "#case-key-input")
    page.keyboard.type(case_key)
    key(page, "Enter")
    page.wait_for_selector("#view-case:not([hidden])", timeout=30_000)
    assert_focus_shown(page, "the case view")
    tab_to(page, "#followup-text")
    page.keyboard.type("One more thing.")
    tab_to(page, "#followup-form button[type=submit]")
    key(page, "Enter")
    page.wait_for_selector("#followup-sent:not([hidden])", timeout=30_000)
    assert_focus_shown(page, "after a follow-up is sent")
    tab_to(page, "#consent-change > summary")
    key(page, "Enter")
    tab_to(page, "#cc-use_name-no")
    key(page, "Space")
    tab_to(page, "#consent-send")
    key(page, "Enter")
    page.wait_for_selector("#consent-sent:not([hidden])", timeout=30_000)
    assert_focus_shown(page, "after the consent change is sent")
    # The desk collects them before the withdrawal deletes the case from the server.
    stack.cli("sync", "pull", "--out", str(tmp_path / "kb-before.qlb"))
    stack.cli("ws", "import", str(tmp_path / "kb-before.qlb"))
    tab_to(page, "#withdraw > summary")
    key(page, "Enter")
    tab_to(page, "#withdraw-start")
    key(page, "Enter")
    assert page.evaluate("document.activeElement.id") == "withdraw-no"
    key(page, "Shift+Tab")
    assert page.evaluate("document.activeElement.id") == "withdraw-yes"
    key(page, "Enter")
    page.wait_for_selector("#withdraw-sent:not([hidden])", timeout=30_000)
    assert_focus_shown(page, "after withdrawing")
    tab_to(page, "#case-close")
    key(page, "Enter")
    page.wait_for_selector("#view-home:not([hidden])")
    assert_focus_shown(page, "back home")

    stack.cli("sync", "pull", "--out", str(tmp_path / "kb2.qlb"))
    stack.cli("ws", "import", str(tmp_path / "kb2.qlb"))
    case = json.loads(stack.cli("ws", "show", ref, "--json").stdout)
    assert [f["text"] for f in case["followups"]] == ["One more thing.", "", ""]
    assert case["consent"]["withdrawn"] is True
    assert page.recorder.page_errors == []


# -- reflow: 320 px wide, text at 200 % ---------------------------------------------------------


def larger_text(page) -> None:
    # What a person's "text size 200 %" does: every rem and em doubles (the page sizes in
    # rem). Set through the CSSOM from the test; the page itself sets no style.
    page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")


@pytest.mark.parametrize("lang", ("en", "ar"))
def test_steps_reflow_at_320_px_with_text_at_200_percent(page, stack, replied_case, lang):
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(stack.base_url + "/")
    page.wait_for_selector("#view-home:not([hidden])")
    if lang != "en":
        page.select_option("#language", lang)
        page.wait_for_selector(f"html[lang={lang}]", state="attached")
    larger_text(page)
    assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "32px"
    problems = {}

    def look(state):
        wide = horizontal_overflow(page) + a11y.squeezed_text(page)
        if wide:
            problems[state] = wide
        if lang == "en":
            a11y.screenshot(page, f"a11y-reflow-{lang}-{state}")

    look("home")
    page.click("#go-report")
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    page.select_option("#country", "UA")
    page.fill("#date-year", "2024")
    page.select_option("#date-month", "09")
    for _ in range(12):
        step = page.evaluate(VISIBLE_STEP)
        if step == "who":
            page.check("#reporter_role-intermediary")
            page.click("#add-person")
        if step == "urgency":
            page.check("#urgency-upcoming_date")
            page.fill("#upcoming-year", "2030")
            page.select_option("#upcoming-month", "12")
            page.select_option("#upcoming-day", "28")
        look(f"step-{step}")
        if not page.locator("#step-next-button").is_visible():
            break
        page.click("#step-next-button")
    page.click("#leave")
    page.wait_for_url("about:blank")
    page.goto(stack.base_url + "/")
    page.wait_for_selector("#view-home:not([hidden])")
    if lang != "en":
        page.select_option("#language", lang)
        page.wait_for_selector(f"html[lang={lang}]", state="attached")
    larger_text(page)
    page.click("#go-return")
    page.fill("#case-key-input", replied_case)
    page.press("#case-key-input", "Enter")
    page.wait_for_selector("#view-case:not([hidden])", timeout=30_000)
    page.click("#consent-change > summary")
    page.click("#case-victim > summary")
    page.click("#withdraw > summary")
    page.click("#withdraw-start")
    look("case")
    assert not problems, json.dumps(problems, indent=1)
