"""The casework commands through click: each command and its one-line refusals, `ws cases`
ordering and filters, `ws show` with every field, the consent answers and the casework,
`ws reply` taking its status from the workflow, `ws notify-open`."""

import json

import pytest

from workstation import audit, casework, workflow
from ws_helpers import assert_one_line_error

from casework_helpers import ACTOR, import_case, import_followup, set_today, walk_to

TODAY = "2026-12-20"


@pytest.fixture
def ws(cli, vault_path, monkeypatch):
    set_today(monkeypatch, TODAY)
    return lambda *args: cli("ws", "--vault", vault_path, "--operator", "maria", *args)


@pytest.fixture
def case(vault, desks, tmp_path, monkeypatch):
    set_today(monkeypatch, TODAY)
    return import_case(vault, desks, tmp_path, consent={"state_action": "private"}).case_id


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


# -- the casework commands ---------------------------------------------------------------------


def test_a_case_worked_through_the_commands(ws, vault, case):
    short = case[:8]
    assert ok(ws("move", short, "--to", "risk_assessment")).strip() == f"case {short}: received -> risk_assessment"
    assert "risk 7.5 (high)" in ok(ws("assess", short, "--threats", "5", "--vulnerabilities", "3", "--capacities", "2", "--notes", "raids"))
    ok(ws("move", short, "--to", "verification"))
    assert "verification verified" in ok(ws("verify", short, "--status", "verified"))
    ok(ws("move", short, "--to", "decision"))
    ok(ws("move", short, "--to", "measures"))
    assert "measure 1 (relocation) planned" in ok(ws("measure", short, "--add", "relocation", "--note", "safe house"))
    assert "measure 1 (relocation) in_place" in ok(ws("measure", short, "--set", "1", "--status", "in_place"))
    assert "letter 1 to the State sent, reply due 2027-01-10" in ok(ws("state-letter", short, "--sent", "--due", "2027-01-10"))
    assert "note 1 added" in ok(ws("note", short, "called the lawyer"))
    assert "next review 2027-01-05" in ok(ws("review", short, "--on", "2027-01-05"))
    assert_one_line_error(ws("move", short, "--to", "closed", "--reason", "threat_ended"), "state_reply_pending", "letter 1")
    assert "reply to letter 1 logged" in ok(ws("state-letter", short, "--received", "1"))
    assert "measures -> closed (threat_ended)" in ok(ws("move", short, "--to", "closed", "--reason", "threat_ended"))

    work = casework.load(vault, case)
    assert (work.state, work.close_reason, work.verification, work.next_review) == ("closed", "threat_ended", "verified", "2027-01-05")
    assert [m.status for m in work.measures] == ["in_place"] and work.notes[0].by == "maria"
    assert work.state_letters[0].received == TODAY
    assert len(audit.entries(vault)) == 13 and audit.verify(vault).count == 13  # the refused close left none


def test_refusals_are_one_line_with_their_code(ws, case):
    short = case[:8]
    assert_one_line_error(ws("move", short, "--to", "decision"), "transition_refused", "allowed next: risk_assessment, closed")
    assert_one_line_error(ws("move", short, "--to", "closed"), "close_reason_required")
    ok(ws("move", short, "--to", "risk_assessment"))
    assert_one_line_error(ws("move", short, "--to", "verification"), "risk_not_assessed")
    assert_one_line_error(ws("state-letter", short, "--sent"), "not_verified")
    assert_one_line_error(ws("state-letter", short, "--sent", "--due", "next week"), "bad_day")
    assert_one_line_error(ws("state-letter", short, "--received", "4"), "unknown_letter")
    assert_one_line_error(ws("measure", short, "--set", "2", "--status", "ended"), "unknown_measure")
    assert_one_line_error(ws("review", short, "--on", "2026-02-31"), "bad_day")
    assert_one_line_error(ws("note", "ffffffff", "x"), "unknown_case")
    # Usage mistakes exit 2, also one line.
    assert_one_line_error(ws("move", short, "--to", "archived"), "archived", exit_code=2)
    assert_one_line_error(ws("assess", short, "--threats", "6", "--vulnerabilities", "1", "--capacities", "1"), "6", exit_code=2)
    assert_one_line_error(ws("measure", short), "--add", exit_code=2)
    assert_one_line_error(ws("measure", short, "--set", "1"), "--status", exit_code=2)
    assert_one_line_error(ws("state-letter", short), "--sent", exit_code=2)


def test_a_letter_needs_consent_to_action_toward_the_state(ws, vault, desks, tmp_path):
    short = import_case(vault, desks, tmp_path, consent={"state_action": "none"}).case_id[:8]
    ok(ws("verify", short, "--status", "verified"))
    assert_one_line_error(ws("state-letter", short, "--sent"), "consent_missing", "action toward the State")


# -- ws cases --------------------------------------------------------------------------------


@pytest.fixture
def listed(vault, desks, tmp_path, monkeypatch):
    """Cases of each urgency and age; returns their ids by name."""
    set_today(monkeypatch, TODAY)
    cases = {
        "none_old": import_case(vault, desks, tmp_path, day="2026-10-01"),
        "none_new": import_case(vault, desks, tmp_path, day="2026-12-10", country="BY"),
        "date_late": import_case(vault, desks, tmp_path, day="2026-12-01", urgency=["upcoming_date"], upcoming_date="2027-03-01"),
        "date_soon": import_case(vault, desks, tmp_path, day="2026-12-15", urgency=["upcoming_date"], upcoming_date="2027-01-02"),
        "imminent": import_case(vault, desks, tmp_path, day="2026-12-18", urgency=["imminent_threat"]),
        "detained_new": import_case(vault, desks, tmp_path, day="2026-12-19", urgency=["detained"], country="BY"),
        "missing_old": import_case(vault, desks, tmp_path, day="2026-11-01", urgency=["missing", "upcoming_date"], upcoming_date="2026-12-30"),
        "closed": import_case(vault, desks, tmp_path, day="2026-09-01", urgency=["detained"]),
    }
    ids = {name: s.case_id for name, s in cases.items()}
    workflow.move(vault, ACTOR, ids["closed"], "closed", "threat_ended")
    walk_to(vault, ids["none_old"], "review")
    workflow.set_next_review(vault, ACTOR, ids["none_old"], "2026-12-01")  # overdue
    workflow.set_next_review(vault, ACTOR, ids["imminent"], "2027-01-15")
    workflow.set_verification(vault, ACTOR, ids["none_new"], "verified")
    import_followup(vault, desks, tmp_path, cases["date_late"], 1, withdraw=True)
    return ids


def order(output: str, ids: dict) -> list[str]:
    """The names of the listed cases, in the order the table shows them."""
    rows = [(output.index(case_id[:8]), name) for name, case_id in ids.items() if case_id[:8] in output]
    return [name for _, name in sorted(rows)]


def row_of(output: str, case_id: str) -> str:
    return next(line for line in output.splitlines() if case_id[:8] in line)


def test_cases_are_listed_most_urgent_first_then_oldest(ws, listed):
    output = ok(ws("cases"))
    assert order(output, listed) == [
        "missing_old", "detained_new", "imminent", "date_soon", "date_late", "none_old", "none_new", "closed",
    ]
    assert "8 cases" in output


def test_cases_by_age_and_by_review(ws, listed):
    assert order(ok(ws("cases", "--sort", "age")), listed) == [
        "none_old", "missing_old", "date_late", "none_new", "date_soon", "imminent", "detained_new", "closed",
    ]
    by_review = order(ok(ws("cases", "--sort", "review")), listed)
    assert by_review[:2] == ["none_old", "imminent"] and by_review[-1] == "closed"


def test_case_rows_show_the_casework(ws, listed):
    output = ok(ws("cases"))
    none_old = row_of(output, listed["none_old"])
    for cell in ("2026-10-01", " 80 ", "review", "medium", "2026-12-01 OVERDUE"):
        assert cell in none_old, none_old
    assert "WITHDRAWN" in row_of(output, listed["date_late"]) and "WITHDRAWN" not in row_of(output, listed["none_new"])
    assert "missing, date 2026-12-30" in row_of(output, listed["missing_old"])
    assert "closed" in row_of(output, listed["closed"]) and " 1 " in row_of(output, listed["date_late"])  # one follow-up


def test_a_state_reply_overdue_is_marked_and_filtered(ws, vault, desks, tmp_path, listed):
    late = import_case(vault, desks, tmp_path, consent={"state_action": "public"}).case_id
    workflow.set_verification(vault, ACTOR, late, "verified")
    workflow.state_letter_sent(vault, ACTOR, late, reply_due="2026-12-19")
    waiting = import_case(vault, desks, tmp_path, consent={"state_action": "public"}).case_id
    workflow.set_verification(vault, ACTOR, waiting, "verified")
    workflow.state_letter_sent(vault, ACTOR, waiting, reply_due=TODAY)  # due today: not yet overdue
    output = ok(ws("cases"))
    assert "reply OVERDUE" in row_of(output, late) and "awaiting reply (1)" in row_of(output, waiting)
    overdue = ok(ws("cases", "--overdue"))
    assert late[:8] in overdue and listed["none_old"][:8] in overdue and waiting[:8] not in overdue
    assert "2 cases" in overdue


@pytest.mark.parametrize(
    "args, expected",
    [
        (("--state", "review"), {"none_old"}),
        (("--state", "closed"), {"closed"}),
        (("--country", "by"), {"none_new", "detained_new"}),
        (("--closed",), {"closed"}),
        (("--open", "--country", "SY", "--state", "received"), {"date_late", "date_soon", "imminent", "missing_old"}),
        (("--verification", "verified"), {"none_new"}),
        (("--overdue",), {"none_old"}),
    ],
)
def test_case_filters(ws, listed, args, expected):
    assert set(order(ok(ws("cases", *args)), listed)) == expected


def test_no_case_matches(ws, listed):
    assert ok(ws("cases", "--state", "implementing")).strip() == "no cases match"


# -- ws show ---------------------------------------------------------------------------------


def consent_block(output: str, heading: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


NOT = "not answered (counts as no)"


def test_show_labels_every_field_and_the_exact_consent(ws, vault, desks, tmp_path):
    submitter = import_case(
        vault, desks, tmp_path,
        place="Geneva airport", date="2026-09", engagement="cooperated", un_bodies=["hrc_session", "upr"],
        reprisal_types=["travel_ban", "surveillance"], perpetrators=["police"], reporter_role="intermediary",
        organisation="Friends", affected=[{"relation": "colleague", "name": "Lea", "detail": "journalist"}],
        urgency=["imminent_threat"], groups=["journalist"], remedies="not_possible",
        consent={"use_information": "yes", "use_name": "no", "state_action": "public", "referral": {"unhcr": "yes", "ngos": "no"}},
        victim_consent={"use_information": "yes", "state_action": "private", "referral": {"unhcr": "yes"}},
    )
    import_followup(vault, desks, tmp_path, submitter, 1, consent={"sg_report": "anonymised"}, victim_consent={"use_media": "no"})
    output = ok(ws("show", submitter.case_id[:8]))
    for line in (
        "place: Geneva airport", "date of events: 2026-09", "engagement with the UN: cooperated",
        "UN bodies: hrc_session, upr", "reprisal types: travel_ban, surveillance", "perpetrators: police",
        "reporter's role: intermediary", "organisation: Friends", "  - colleague: Lea (journalist)",
        "urgency: imminent_threat", "groups: journalist", "domestic remedies tried: not_possible",
        "gender: not given", "upcoming risky date: not given",
        "changes the reporter's consent: Secretary-General's annual report: anonymised",
        "changes the victim's consent: use of photos, video and audio: no",
        "state: received (opened 2026-11-20)", "letters to the State: none",
    ):
        assert line in output, line
    questions = [
        "use of the information", "use of names", "use of photos, video and audio", "action toward the State",
        "Secretary-General's annual report", "referral to a national protection mechanism",
        "referral to a national human rights institution", "referral to UNHCR", "referral to other UN bodies",
        "referral to NGOs", "referral to lawyers' networks",
    ]
    answers = {
        "reporter's consent": ["yes", "no", NOT, "public", "anonymised", NOT, NOT, "yes", NOT, "no", NOT],
        "victim's consent": ["yes", NOT, "no", "private", NOT, NOT, NOT, "yes", NOT, NOT, NOT],
        "effective consent": ["yes", NOT, NOT, "private", NOT, NOT, NOT, "yes", NOT, NOT, NOT],
    }
    for heading, expected in answers.items():
        assert consent_block(output, heading) == [f"{q}: {a}" for q, a in zip(questions, expected)], heading
    assert "WITHDRAWN" not in output


def test_show_a_withdrawal_and_the_casework(ws, vault, desks, tmp_path, monkeypatch):
    submitter = import_case(vault, desks, tmp_path, consent={"state_action": "public"}, reporter_role="victim")
    case_id = submitter.case_id
    walk_to(vault, case_id, "measures")
    workflow.set_verification(vault, ACTOR, case_id, "verified")
    workflow.add_measure(vault, ACTOR, case_id, "visibility", "statement")
    workflow.state_letter_sent(vault, ACTOR, case_id, reply_due="2026-12-19")
    workflow.add_note(vault, ACTOR, case_id, "\x1b[31mred note")
    workflow.set_next_review(vault, ACTOR, case_id, "2026-12-01")
    import_followup(vault, desks, tmp_path, submitter, 1, withdraw=True)
    workflow.move(vault, ACTOR, case_id, "closed", "consent_withdrawn")
    output = ok(ws("show", case_id[:8]))
    assert "CONSENT WITHDRAWN by a follow-up" in output and "WITHDRAWS CONSENT" in output
    assert consent_block(output, "effective consent")[3] == "action toward the State: none"
    for line in (
        "state: closed (opened 2026-11-20)", f"closed {TODAY}: consent withdrawn", "verification: verified",
        "threats 3 x vulnerabilities 3 / capacities 3 = 3.0 (medium)", "1. visibility: planned",
        "1. sent 2026-12-20 by fp-tester, reply due 2026-12-19; State has not responded (OVERDUE)",
        "next review: 2026-12-01", "measures -> closed (consent_withdrawn)", "\\x1b[31mred note",
    ):
        assert line in output, line
    assert "\x1b" not in output
    document = json.loads(ok(ws("show", case_id[:8], "--json")))
    assert {"case_id", "day", "lang", "report", "consent", "followups", "attachments", "replies", "casework"} <= set(document)
    assert document["consent"]["withdrawn"] is True and document["casework"]["state"] == "closed"


# -- replies and notices ----------------------------------------------------------------------


def test_reply_status_defaults_to_the_workflow_state(ws, vault, case):
    short = case[:8]
    assert "(received)" in ok(ws("reply", short, "--message", "We have your report."))
    walk_to(vault, case, "decision")
    assert "(assessing)" in ok(ws("reply", short, "--message", "We are assessing."))
    assert "(more_information_needed)" in ok(ws("reply", short, "--status", "more_information_needed", "--message", "When?"))
    workflow.move(vault, ACTOR, case, "measures")
    workflow.set_verification(vault, ACTOR, case, "verified")
    workflow.state_letter_sent(vault, ACTOR, case)
    assert "(awaiting_state_reply)" in ok(ws("reply", short, "--message", "We wrote to the State."))
    replies = [e for e in audit.entries(vault) if e.action == "reply"]
    assert [e.detail["status"] for e in replies] == ["received", "assessing", "more_information_needed", "awaiting_state_reply"]
    assert all(e.actor == "maria" for e in replies)
    assert "last reply" in ok(ws("cases")) and "awaiting_state_reply" in ok(ws("cases"))


def test_notify_open(ws, vault, desks, tmp_path):
    silent = import_case(vault, desks, tmp_path, day="2026-11-01").case_id
    closed = import_case(vault, desks, tmp_path, day="2026-11-01").case_id
    recent = import_case(vault, desks, tmp_path, day="2026-12-15").case_id
    workflow.move(vault, ACTOR, closed, "closed", "contact_lost")
    output = ok(ws("notify-open"))
    assert output.splitlines()[0] == "1 still-open notice stored; they leave with the next export"
    assert f"case {silent[:8]} (received)" in output and closed[:8] not in output and recent[:8] not in output
    output = ok(ws("notify-open", "--after-days", "2"))
    assert output.splitlines()[0].startswith("1 still-open notice") and recent[:8] in output
    assert "notice still_open" in ok(ws("show", silent[:8]))
    assert [e.action for e in audit.entries(vault)][-2:] == ["notice", "notice"]
    assert_one_line_error(ws("notify-open", "--after-days", "-1"), "-1", exit_code=2)


def test_the_focal_points_assessed_urgency_outranks_what_the_report_says(ws, listed, vault):
    # The report says detained; the focal point found the person released: low. A case
    # whose report named no urgency is judged immediate: it joins the first rank, where the
    # older case still comes first.
    short_detained, short_none = listed["detained_new"][:8], listed["none_new"][:8]
    assert ", urgency low" in ok(ws("assess", short_detained, "--threats", "1", "--vulnerabilities", "2", "--capacities", "4", "--urgency", "low"))
    ok(ws("assess", short_none, "--threats", "5", "--vulnerabilities", "4", "--capacities", "1", "--urgency", "immediate"))
    output = ok(ws("cases"))
    assert order(output, listed) == [
        "missing_old", "none_new", "imminent", "date_soon", "date_late", "none_old", "detained_new", "closed",
    ]
    assert "assessed low (detained)" in row_of(output, listed["detained_new"])
    assert "assessed immediate" in row_of(output, listed["none_new"])
    assert "urgency immediate" in ok(ws("show", short_none))
    assert [e.detail.get("urgency") for e in audit.entries(vault) if e.action == "assess_risk"][-2:] == ["low", "immediate"]
    assert_one_line_error(ws("assess", short_none, "--threats", "1", "--vulnerabilities", "1", "--capacities", "1", "--urgency", "soon"), "soon", exit_code=2)
