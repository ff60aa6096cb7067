"""The table itself: every row changes its artifact, is refused by at least one layer, names
only the layers that handle its artifact, and gives the browser and crypto/ the same code
where both run the same rule."""

import pytest

from .table import ACCEPTED, CASES, LAYERS, VALID, ids

# Which layers handle each artifact (see table.py's docstring).
HANDLED_BY = {
    "report": {"server", "workstation", "python", "browser"},
    "followup": {"server", "workstation", "python", "browser"},
    "withdrawal": {"server", "workstation", "python", "browser"},
    "reply": {"server", "python", "browser"},
    "inbound": {"workstation", "python"},
    "outbound": {"server", "python"},
    "manifest": {"server", "python", "browser"},
    "attachment": {"server", "workstation", "python", "browser"},
}
# The browser and crypto/ run the same reader for these (for envelopes the browser only
# checks framing, which test_browser.py compares with crypto's parse_header).
SAME_READER = ("reply", "manifest", "attachment")


def test_names_are_unique():
    names = [t.name for t in CASES]
    assert len(names) == len(set(names))


def test_every_artifact_has_rows():
    assert {t.artifact for t in CASES} == set(VALID) == set(HANDLED_BY)
    for kind in VALID:
        assert sum(t.artifact == kind for t in CASES) >= 5, kind


@pytest.mark.parametrize("tamper", CASES, ids=ids(CASES))
def test_row_is_consistent(world, tamper):
    assert tamper.build(world) != tamper.valid(world), "the mutation changes nothing"
    assert set(tamper.layers) <= HANDLED_BY[tamper.artifact], tamper.layers
    codes = [tamper.expect.of(layer) for layer in LAYERS]
    assert any(code not in (None, ACCEPTED) for code in codes), "no layer refuses it"
    if tamper.artifact in SAME_READER and tamper.expect.browser is not None:
        assert tamper.expect.browser == tamper.expect.python
