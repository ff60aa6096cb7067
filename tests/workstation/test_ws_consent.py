"""Consent enforced on every export: each refusal names the missing consent in plain words
and leaves nothing behind (no file, no audit entry, no referral logged); an intermediary's
report needs the victim's consent too; follow-ups change consent both ways; a withdrawal
refuses everything; the focal point's own `ws show --extract` stays allowed."""

import csv

import pytest

from crypto.report import REFERRAL_KINDS
from workstation import audit, casework
from workstation.cases import find_case
from workstation.consent import (
    ConsentMissing,
    case_consent,
    require_information,
    require_media,
    require_names,
    require_referral,
    require_sg_report,
)
from workstation.importer import import_bundle
from test_ws_referral import KeyPair
from ws_helpers import InboundBundle, Submitter, assert_one_line_error

YES = {
    "use_information": "yes", "use_name": "yes", "use_media": "yes", "state_action": "private",
    "sg_report": "named", "referral": {kind: "yes" for kind in REFERRAL_KINDS},
}
NAMES = {"reporter_role": "victim", "reporter_name": "Rana Haddad", "affected": [{"relation": "self", "name": "Rana Haddad"}]}


def consent(**changes) -> dict:
    out = {**YES, "referral": dict(YES["referral"])}
    for key, value in changes.items():
        if key in REFERRAL_KINDS and value is None:
            out["referral"].pop(key)
        elif key in REFERRAL_KINDS:
            out["referral"][key] = value
        elif value is None:
            out.pop(key)
        else:
            out[key] = value
    return out


@pytest.fixture(scope="module")
def recipient():
    pair = KeyPair("NHRI <nhri@example>")
    yield pair
    pair.close()


@pytest.fixture
def key(recipient, tmp_path):
    return recipient.export_public(tmp_path / "nhri.asc")


class Desk:
    """Imports cases into the test vault and runs the export commands against it."""

    def __init__(self, cli, vault, vault_path, tmp_path, desks):
        self.cli, self.vault, self.vault_path, self.tmp, self.desks = cli, vault, vault_path, tmp_path, desks
        self.out = tmp_path / "out"
        self.out.mkdir()
        self.n = 0

    def case(self, report: dict, followups=(), attachments=()) -> Submitter:
        sub = Submitter.new()
        bundle = InboundBundle().add_report(sub.case_id, sub.report(self.desks, text="The account.", extra=report, attachments=list(attachments)))
        for seq, extra in enumerate(followups, start=1):
            bundle.add_followup(sub.case_id, seq, sub.followup(self.desks, extra=extra))
        self.n += 1
        result = import_bundle(self.vault, bundle.write(self.tmp / f"in-{self.n}.qlb"))
        assert not result.refused, result.refused
        return sub

    def followup(self, sub: Submitter, seq: int, extra: dict) -> None:
        self.n += 1
        bundle = InboundBundle().add_followup(sub.case_id, seq, sub.followup(self.desks, extra=extra))
        assert not import_bundle(self.vault, bundle.write(self.tmp / f"in-{self.n}.qlb")).refused

    def ws(self, *args):
        return self.cli("ws", "--vault", self.vault_path, *args)

    def refer(self, sub: Submitter, key, *args, kind="nhri", out=None):
        self.n += 1
        self.last_out = self.out / (out or f"referral-{self.n}.asc")
        return self.ws("refer", sub.case_id[:8], "--kind", kind, "--key", key, "--out", self.last_out, *args)

    def work(self, sub: Submitter, **fields) -> None:
        """Set casework directly (the workflow commands are another module's)."""
        record = casework.load(self.vault, sub.case_id)
        for name, value in fields.items():
            setattr(record, name, value)
        casework.save(self.vault, record)

    def consent_of(self, sub: Submitter):
        return case_consent(self.vault, find_case(self.vault, sub.case_id))


@pytest.fixture
def desk(cli, vault, vault_path, tmp_path, desks):
    return Desk(cli, vault, vault_path, tmp_path, desks)


def assert_refused_cleanly(desk: Desk, result, sub: Submitter, *fragments: str, earlier: int = 0) -> str:
    """Refused, naming the consent; no file (not even a temporary one), no referral logged
    and no audit entry beyond the `earlier` referrals of this case that did go."""
    line = assert_one_line_error(result, "consent_missing", *fragments)
    assert not desk.last_out.exists()
    assert [p.name for p in desk.out.iterdir() if p.name.startswith(".")] == []
    assert len(casework.load(desk.vault, sub.case_id).referrals) == earlier
    exported = [e for e in audit.entries(desk.vault) if e.action == "referral_export" and e.case_id == sub.case_id]
    assert len(exported) == earlier
    return line


# -- the checks themselves ------------------------------------------------------------------------


def test_each_check_names_its_consent_in_plain_words(desk):
    sub = desk.case({"consent": {}})  # nothing answered: every use is no
    state = desk.consent_of(sub)
    checks = [
        (require_information, (), "use of the information"),
        (require_names, (), "use of names"),
        (require_media, (), "use of photos and media"),
        (require_sg_report, (), "inclusion in the Secretary-General's report"),
        (require_referral, ("nhri",), "referral to a national human rights institution (nhri)"),
        (require_referral, ("unhcr",), "referral to UNHCR (unhcr)"),
        (require_referral, ("lawyers",), "referral to lawyers' networks (lawyers)"),
    ]
    for check, args, words in checks:
        with pytest.raises(ConsentMissing) as caught:
            check(state, *args)
        assert caught.value.missing == words
        assert caught.value.message == f"the case's consent does not allow this: {words} (not answered)"

    refused = desk.consent_of(desk.case({"consent": consent(use_name="no", sg_report="none", nhri="no")}))
    for check, args in ((require_names, ()), (require_sg_report, ()), (require_referral, ("nhri",))):
        with pytest.raises(ConsentMissing, match=r"\(refused\)$"):
            check(refused, *args)
    require_information(refused)
    assert require_sg_report(desk.consent_of(desk.case({"consent": consent(sg_report="anonymised")}))) == "anonymised"


# -- each refused referral ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, args, kind, words",
    [
        (consent(use_information="no"), [], "nhri", "use of the information (refused)"),
        (consent(use_information=None), [], "nhri", "use of the information (not answered)"),
        (consent(nhri="no"), [], "nhri", "referral to a national human rights institution (nhri) (refused)"),
        (consent(ngos=None), [], "ngos", "referral to NGOs (ngos) (not answered)"),
        (consent(use_name="no"), ["--with-names"], "nhri", "use of names (refused)"),
        (consent(use_media="no"), ["--with-media"], "nhri", "use of photos and media (refused)"),
        ({}, [], "nhri", "use of the information (not answered)"),
    ],
    ids=["information-no", "information-unanswered", "nhri-no", "ngos-unanswered", "names", "media", "no-consent-at-all"],
)
def test_each_missing_consent_refuses_the_referral(desk, key, given, args, kind, words):
    sub = desk.case({**NAMES, "consent": given}, attachments=[("photo.jpg", b"\xff\xd8 a photo")])
    before = audit.head(desk.vault)
    line = assert_refused_cleanly(desk, desk.refer(sub, key, *args, kind=kind), sub)
    assert line.endswith(f"the case's consent does not allow this: {words}"), line
    assert audit.head(desk.vault) == before


def test_what_consent_allows_goes_through(desk, key, recipient):
    sub = desk.case({**NAMES, "consent": consent()}, attachments=[("photo.jpg", b"\xff\xd8 a photo")])
    result = desk.refer(sub, key, "--with-names", "--with-media")
    assert result.exit_code == 0, result.output
    assert len(casework.load(desk.vault, sub.case_id).referrals) == 1


def test_a_case_closed_because_consent_was_withdrawn_is_refused(desk, key):
    sub = desk.case({"consent": consent()})
    desk.work(sub, state="closed", closed="2026-11-21", close_reason="consent_withdrawn")
    assert_refused_cleanly(desk, desk.refer(sub, key), sub, "the case was closed because consent was withdrawn")


def test_a_case_closed_for_withdrawal_is_left_out_of_the_list_and_the_statistics(desk):
    sub = desk.case({"country": "SY", "consent": consent()})  # the answers still say yes
    desk.work(sub, verification="verified", state="closed", closed="2026-11-21", close_reason="consent_withdrawn")
    result = desk.ws("sg-list", "--out", desk.tmp / "sg.csv")
    assert f"{sub.case_id[:8]}: any use of the case (the case was closed because consent was withdrawn)" in result.output
    result = desk.ws("stats", "--from", "2026-01-01", "--to", "2026-12-31", "--min-count", "1")
    assert "left out for lack of consent: 1 received in the period" in result.output


def test_a_bad_key_is_refused_only_after_consent_so_the_message_is_about_consent(desk, tmp_path):
    sub = desk.case({"consent": consent(use_information="no")})
    bogus = tmp_path / "bogus.asc"
    bogus.write_text("not a key")
    assert_refused_cleanly(desk, desk.refer(sub, bogus), sub, "use of the information")


# -- an intermediary's report needs the victim's consent as well ---------------------------------


def test_intermediary_case_needs_the_victims_consent_too(desk, key):
    report = {"reporter_role": "intermediary", "organisation": "Helping Hands", "consent": consent()}
    victim_refuses = desk.case({**report, "victim_consent": consent(use_name="no", nhri="no")})
    line = assert_refused_cleanly(desk, desk.refer(victim_refuses, key), victim_refuses)
    assert line.endswith("referral to a national human rights institution (nhri) (the victim said no)")
    line = assert_refused_cleanly(desk, desk.refer(victim_refuses, key, "--with-names", kind="lawyers"), victim_refuses)
    assert line.endswith("use of names (the victim said no)")
    assert desk.refer(victim_refuses, key, kind="lawyers").exit_code == 0  # what both allow goes
    assert_refused_cleanly(desk, desk.refer(victim_refuses, key), victim_refuses, "(the victim said no)", earlier=1)

    victim_silent = desk.case(report)  # the intermediary consents; the victim was never asked
    line = assert_refused_cleanly(desk, desk.refer(victim_silent, key), victim_silent)
    assert line.endswith("use of the information (the victim did not answer)")

    reporter_refuses = desk.case({**report, "consent": consent(nhri="no"), "victim_consent": consent()})
    line = assert_refused_cleanly(desk, desk.refer(reporter_refuses, key), reporter_refuses)
    assert line.endswith("(nhri) (the reporter said no)")


# -- follow-ups change consent -------------------------------------------------------------------


def test_a_followup_can_take_consent_back(desk, key):
    sub = desk.case({**NAMES, "consent": consent()})
    assert desk.refer(sub, key, "--with-names", out="first.asc").exit_code == 0
    desk.followup(sub, 1, {"consent": {"use_name": "no"}})
    result = desk.refer(sub, key, "--with-names", out="second.asc")
    assert_refused_cleanly(desk, result, sub, "use of names (refused)", earlier=1)
    assert desk.refer(sub, key, out="third.asc").exit_code == 0  # without names it still goes


def test_a_followup_can_give_consent_later(desk, key):
    sub = desk.case({"consent": consent(use_information=None, nhri="no")})
    assert_refused_cleanly(desk, desk.refer(sub, key), sub, "use of the information")
    desk.followup(sub, 1, {"consent": {"use_information": "yes"}})
    assert_refused_cleanly(desk, desk.refer(sub, key), sub, "(nhri) (refused)")
    desk.followup(sub, 2, {"consent": {"referral": {"nhri": "yes"}}})
    result = desk.refer(sub, key)
    assert result.exit_code == 0, result.output


def test_a_followup_changes_the_victims_consent(desk, key):
    sub = desk.case({"reporter_role": "intermediary", "consent": consent(), "victim_consent": consent(nhri="no")})
    assert_refused_cleanly(desk, desk.refer(sub, key), sub, "(the victim said no)")
    desk.followup(sub, 1, {"victim_consent": {"referral": {"nhri": "yes"}}})
    assert desk.refer(sub, key).exit_code == 0


# -- withdrawal refuses everything ---------------------------------------------------------------


def test_withdrawal_refuses_every_export(desk, key):
    sub = desk.case({**NAMES, "consent": consent(), "country": "SY"}, attachments=[("photo.jpg", b"\xff\xd8 a photo")])
    desk.work(sub, verification="verified")
    desk.followup(sub, 1, {"withdraw": True})

    for kind in REFERRAL_KINDS:
        line = assert_refused_cleanly(desk, desk.refer(sub, key, kind=kind), sub)
        assert line.endswith("use of the information (consent was withdrawn)")

    result = desk.ws("sg-list", "--out", desk.tmp / "sg.csv")
    assert result.exit_code == 0, result.output
    assert f"{sub.case_id[:8]}: use of the information (consent was withdrawn)" in result.output
    assert list(csv.reader((desk.tmp / "sg.csv").open())) == [list(("case", "received", "country", "date", "un_bodies", "reprisal_types", "perpetrators", "names"))]

    for purpose in ("sg-report", "trends"):
        result = desk.ws("stats", "--from", "2026-01-01", "--to", "2026-12-31", "--purpose", purpose, "--min-count", "1")
        assert result.exit_code == 0, result.output
        assert "left out for lack of consent: 1 received in the period" in result.output
        assert "SY" not in result.output

    # The focal point's own access to the evidence stays.
    result = desk.ws("show", sub.case_id[:8], "--extract", desk.tmp / "evidence")
    assert result.exit_code == 0, result.output
    assert (desk.tmp / "evidence" / "photo.jpg").read_bytes() == b"\xff\xd8 a photo"


# -- the Secretary-General's list ------------------------------------------------------------------


def test_sg_list_includes_only_verified_consenting_cases_and_names_only_when_both_allow(desk):
    named = desk.case({**NAMES, "country": "SY", "date": "2026-03", "reprisal_types": ["travel_ban"], "perpetrators": ["police"],
                       "un_bodies": ["hrc_session"], "consent": consent()})
    named_no_name = desk.case({**NAMES, "country": "EG", "consent": consent(use_name="no")})
    anonymised = desk.case({**NAMES, "country": "BY", "consent": consent(sg_report="anonymised")})
    unverified = desk.case({"country": "IR", "consent": consent()})
    not_in_report = desk.case({"country": "CN", "consent": consent(sg_report="none")})
    no_information = desk.case({"country": "RU", "consent": consent(use_information="no")})
    for sub in (named, named_no_name, anonymised, not_in_report, no_information):
        desk.work(sub, verification="verified")
    desk.work(unverified, verification="in_progress")
    before = audit.head(desk.vault).count

    out = desk.tmp / "sg.csv"
    result = desk.ws("--operator", "focal-1", "sg-list", "--year", "2026", "--out", out)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    by_case = {row["case"]: row for row in rows}
    assert set(by_case) == {named.case_id[:8], named_no_name.case_id[:8], anonymised.case_id[:8]}
    assert by_case[named.case_id[:8]] == {
        "case": named.case_id[:8], "received": "2026-11-20", "country": "SY", "date": "2026-03", "un_bodies": "hrc_session",
        "reprisal_types": "travel_ban", "perpetrators": "police", "names": "Rana Haddad",
    }
    assert by_case[named_no_name.case_id[:8]]["names"] == "anonymised"
    assert by_case[anonymised.case_id[:8]]["names"] == "anonymised"
    assert "The account." not in out.read_text()  # the account is never in the list
    for sub, reason in (
        (unverified, "verification (the case is in progress)"),
        (not_in_report, "inclusion in the Secretary-General's report (refused)"),
        (no_information, "use of the information (refused)"),
    ):
        assert f"{sub.case_id[:8]}: {reason}" in result.output
    [entry] = audit.entries(desk.vault)[before:]
    assert entry.action == "sg_list" and entry.actor == "focal-1" and entry.detail["named"] == 1
    assert sorted(entry.detail["listed"]) == sorted(by_case)

    assert desk.ws("sg-list", "--year", "2025", "--out", desk.tmp / "2025.csv").output.startswith("0 case(s) listed")
    assert_one_line_error(desk.ws("sg-list", "--out", out), "already exists")


def test_sg_list_neutralises_names_that_would_run_as_formulas(desk):
    sub = desk.case({"reporter_role": "victim", "reporter_name": "=HYPERLINK(\"http://x\")", "consent": consent()})
    desk.work(sub, verification="verified")
    out = desk.tmp / "sg.csv"
    assert desk.ws("sg-list", "--out", out).exit_code == 0
    [row] = list(csv.DictReader(out.open()))
    assert row["names"] == "'=HYPERLINK(\"http://x\")"
