"""Helpers for the accessibility and discretion tests: axe-core run inside the real page,
a probe of everything a browser could keep on the device, and checks on focus, labels,
errors and reflow.

axe-core comes from npm (client_web/package.json, a devDependency pinned exactly). The test
reads node_modules/axe-core/axe.min.js and evaluates it in the page through the DevTools
protocol; the server never serves node_modules/ and nothing of axe is in vendor/."""

import json
from pathlib import Path

from .conftest import ARTIFACTS, ROOT

AXE_PATH = ROOT / "client_web" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 360, "height": 740}


def axe_source() -> str:
    if not AXE_PATH.exists():
        raise AssertionError(f"{AXE_PATH} is missing: run `make install` (npm ci in client_web)")
    return AXE_PATH.read_text(encoding="utf-8")


def run_axe(page, tags=AXE_TAGS, rules=None) -> list[dict]:
    """axe's violations for the page as it is now (only what is rendered counts)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source() + "\n;void 0")
    options = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": list(rules)}
    else:
        options["runOnly"] = {"type": "tag", "values": list(tags)}
    return page.evaluate(
        """async (options) => {
          const result = await axe.run(document, options);
          return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({ target: n.target.join(' '), summary: n.failureSummary })),
          }));
        }""",
        options,
    )


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:8]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"    {node['target']}: {summary[:300]}")
    return "\n".join(lines)


# -- filing --------------------------------------------------------------------------------------


def file_minimal_report(page, stack, country="KE", done=True) -> tuple[str, str]:
    """Files a report with only the country, through the form; returns (case key, reference)."""
    page.goto(stack.base_url + "/")
    page.click("#go-report")
    page.wait_for_selector("#view-report .root-fingerprint:not(:empty)")
    page.select_option("#country", country)
    while page.locator("#step-next-button").is_visible():
        page.click("#step-next-button")
    page.click("#report-send")
    page.wait_for_selector("#view-key:not([hidden])", timeout=60_000)
    key = page.inner_text("#case-key-display").strip()
    ref = page.inner_text("#receipt-text").split()[-1].lower()
    if done:
        page.click("#key-done")
    return key, ref


# -- what the device keeps ---------------------------------------------------------------------

STORAGE_PROBE = """async () => ({
  cookie: document.cookie,
  local: localStorage.length,
  session: sessionStorage.length,
  idb: (await indexedDB.databases()).map(d => d.name),
  caches: await caches.keys(),
  workers: navigator.serviceWorker ? (await navigator.serviceWorker.getRegistrations()).length : 0,
  href: location.href,
  history: history.length,
  state: JSON.stringify(history.state),
})"""


def device_state(page) -> dict:
    state = page.evaluate(STORAGE_PROBE)
    state["context_cookies"] = page.context.cookies()
    # What the browser itself would save for the origin (cookies and localStorage).
    state["storage_state"] = page.context.storage_state()
    return state


def assert_nothing_kept(page, secrets=(), visited=()) -> None:
    """No cookie, no storage of any kind, no service worker, and no secret in the URL, in
    history.state or in any URL this page's history has held (`visited` are the URLs the
    test saw the main frame navigate to)."""
    state = device_state(page)
    assert state["cookie"] == "" and state["context_cookies"] == [], state
    assert state["local"] == 0 and state["session"] == 0, state
    assert state["idb"] == [] and state["caches"] == [] and state["workers"] == 0, state
    assert state["storage_state"]["cookies"] == [], state["storage_state"]
    assert all(not origin.get("localStorage") for origin in state["storage_state"]["origins"]), state["storage_state"]
    for secret in secrets:
        for variant in {secret, secret.replace("-", ""), secret.lower(), secret.replace("-", "").lower()}:
            assert variant not in state["href"], "the case key is in the URL"
            assert variant not in state["state"], "the case key is in history.state"
            for url in visited:
                assert variant not in url, f"the case key is in a history entry: {url}"


def session_history(page) -> tuple[int, list[dict]]:
    """This tab's session history as the browser keeps it (DevTools protocol): the current
    index and every entry's url and title."""
    cdp = page.context.new_cdp_session(page)
    try:
        history = cdp.send("Page.getNavigationHistory")
    finally:
        cdp.detach()
    return history["currentIndex"], [{"url": e["url"], "title": e.get("title", "")} for e in history["entries"]]


def history_entries(page) -> list[str]:
    """The URL and title of every entry in this tab's session history."""
    _, entries = session_history(page)
    return [e["url"] for e in entries] + [e["title"] for e in entries]


# -- focus, labels, errors, reflow ---------------------------------------------------------------

FOCUS_PROBE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return { lost: true };
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  const shadow = style.boxShadow && style.boxShadow !== 'none';
  // A radio or checkbox shows its focus on the option around it (.option:focus-within).
  const option = el.closest('.option');
  const around = option ? getComputedStyle(option) : null;
  const aroundVisible = !!around && around.outlineStyle !== 'none' && parseFloat(around.outlineWidth) >= 2;
  const rect = el.getBoundingClientRect();
  return {
    lost: false, visible: outline || shadow || aroundVisible, shown: rect.width > 0 && rect.height > 0,
    what: el.tagName + (el.id ? '#' + el.id : '') + (el.className ? '.' + String(el.className).replace(/ /g, '.') : ''),
    outline: style.outline, shadow: style.boxShadow,
  };
}"""


def focus_state(page) -> dict:
    return page.evaluate(FOCUS_PROBE)


FIELD_PROBE = """() => {
  const visible = (el) => !!el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden';
  const problems = [];
  const controls = [...document.querySelectorAll('input, select, textarea')].filter(visible);
  for (const el of controls) {
    const labels = el.labels ? [...el.labels].map(l => l.textContent.trim()).filter(Boolean) : [];
    const named = labels.length || (el.getAttribute('aria-label') || '').trim() || el.getAttribute('aria-labelledby');
    if (!named) problems.push(`no accessible name: ${el.tagName}#${el.id}`);
    if (el.getAttribute('aria-invalid') === 'true') {
      const ids = (el.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean);
      const shown = ids.map(id => document.getElementById(id)).filter(e => e && visible(e) && e.textContent.trim());
      if (!shown.some(e => e.matches('.field-error, .error')))
        problems.push(`aria-invalid without a visible error in its aria-describedby: ${el.tagName}#${el.id}`);
    }
    // A fixed problem leaves no stale words behind: a hidden error it points at is empty.
    for (const id of (el.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean)) {
      const target = document.getElementById(id);
      if (!target) problems.push(`aria-describedby points at a missing id: ${el.tagName}#${el.id} -> ${id}`);
      else if (!visible(target) && target.matches('.field-error') && target.textContent.trim())
        problems.push(`aria-describedby of ${el.tagName}#${el.id} reads a hidden, stale error #${id}`);
    }
  }
  const errors = [...document.querySelectorAll('.field-error')].filter(e => visible(e) && e.textContent.trim());
  for (const error of errors) {
    const referrers = [...document.querySelectorAll('[aria-describedby]')]
      .filter(el => visible(el) && el.getAttribute('aria-describedby').split(/\\s+/).includes(error.id));
    const fields = referrers.filter(el => el.matches('input, select, textarea'));
    if (!referrers.length) problems.push(`error #${error.id} is referenced by no field's aria-describedby`);
    else if (fields.length && !fields.some(el => el.getAttribute('aria-invalid') === 'true'))
      problems.push(`error #${error.id}: its field is not aria-invalid`);
  }
  return { problems, errors: errors.map(e => e.id), controls: controls.length };
}"""


def field_problems(page) -> dict:
    return page.evaluate(FIELD_PROBE)


def horizontal_overflow(page) -> list[str]:
    """Elements that stick out past the right edge (empty when nothing scrolls sideways)."""
    return page.evaluate(
        """() => document.documentElement.scrollWidth <= document.documentElement.clientWidth ? [] :
          [...document.querySelectorAll('body *')]
            .filter(el => el.getClientRects().length && el.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
            .map(el => el.tagName + '#' + el.id + '.' + el.className).slice(0, 20)"""
    )


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # From the top: a full-page picture taken while scrolled shows the sticky header mid-page.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)
    return path


def dump(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1)


def squeezed_text(page) -> list[str]:
    """Text squeezed into a sliver (a letter or two per line), which reflow must not do."""
    return page.evaluate(
        """() => [...document.querySelectorAll('legend, label, p, li, h1, h2, summary, .option > span, button')]
          .filter(el => el.getClientRects().length && el.textContent.trim().length > 3)
          .filter(el => {
            const style = getComputedStyle(el), size = parseFloat(style.fontSize);
            const line = parseFloat(style.lineHeight) || 1.2 * size, rect = el.getBoundingClientRect();
            return rect.width < 2.5 * size && rect.height > 1.8 * line;  // narrow, and wrapped
          })
          .map(el => el.tagName + '#' + el.id + ' ' + el.textContent.trim().slice(0, 30)).slice(0, 20)"""
    )
