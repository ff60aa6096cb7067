"""workflow.py against real vaults: every allowed move, refused moves with their codes, the
gates (risk assessment, State reply pending, consent and verification before a letter to
the State), one audit entry per change, the submitter-visible status, still-open notices."""

import pytest

from crypto.encoding import b64decode
from crypto.reply import open_reply
from workstation import audit, casework, workflow
from workstation.casework import CLOSE_REASONS, OPEN_STATES, STATES
from workstation.cases import REPLY
from workstation.consent import ConsentMissing
from workstation.errors import WorkstationError
from workstation.replies import write_reply

from casework_helpers import ACTOR, PATH_TO, import_case, import_followup, set_today, walk_to

STATE_OK = {"consent": {"state_action": "private"}}


@pytest.fixture
def case_id(vault, desks, tmp_path, monkeypatch):
    set_today(monkeypatch, "2026-11-25")
    return import_case(vault, desks, tmp_path).case_id


def refused(code: str, call, *args, **kwargs) -> WorkstationError:
    with pytest.raises(WorkstationError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    assert "\n" not in caught.value.message
    return caught.value


# -- moves ------------------------------------------------------------------------------------


def test_a_case_never_worked_on_is_received():
    assert workflow.next_states("received") == ("risk_assessment", "closed")
    assert workflow.next_states("review") == ("closed", "measures", "risk_assessment")
    assert workflow.next_states("closed") == ("review",)


def test_the_whole_forward_path_back_steps_close_and_reopen(vault, case_id):
    walk_to(vault, case_id, "review")
    workflow.move(vault, ACTOR, case_id, "measures")  # re-plan
    workflow.move(vault, ACTOR, case_id, "implementing")
    workflow.move(vault, ACTOR, case_id, "review")
    workflow.move(vault, ACTOR, case_id, "risk_assessment")  # re-assess
    refused("risk_not_assessed", workflow.move, vault, ACTOR, case_id, "verification")  # the old assessment is not enough
    workflow.assess_risk(vault, ACTOR, case_id, 5, 4, 2, notes="new threats")
    workflow.move(vault, ACTOR, case_id, "verification")
    for step in ("decision", "measures", "implementing", "review"):
        workflow.move(vault, ACTOR, case_id, step)
    work = workflow.move(vault, ACTOR, case_id, "closed", "threat_ended")
    assert (work.state, work.closed, work.close_reason) == ("closed", "2026-11-25", "threat_ended")
    work = workflow.move(vault, ACTOR, case_id, "review")  # reopen
    assert (work.state, work.closed, work.close_reason) == ("review", None, None)

    work = casework.load(vault, case_id)
    moves = [(t.from_state, t.to_state) for t in work.history]
    assert moves[:6] == list(zip(STATES[:6], STATES[1:7]))
    assert moves[6:8] == [("review", "measures"), ("measures", "implementing")]
    assert moves[-2:] == [("review", "closed"), ("closed", "review")]
    assert work.history[-2].reason == "threat_ended" and all(t.by == ACTOR for t in work.history)
    assert (work.latest_risk.score, work.latest_risk.level) == (10, "high")  # 5 × 4 / 2


@pytest.mark.parametrize("state", OPEN_STATES)
def test_every_open_state_can_close_with_each_reason(vault, case_id, state):
    walk_to(vault, case_id, state)
    for reason in CLOSE_REASONS:
        work = workflow.move(vault, ACTOR, case_id, "closed", reason)
        assert (work.state, work.close_reason) == ("closed", reason)
        workflow.move(vault, ACTOR, case_id, "review")
        if state != "review":
            break  # reopening lands in review; the other reasons are checked from there


@pytest.mark.parametrize(
    "state, to_state",
    [
        ("received", "verification"),
        ("received", "review"),
        ("received", "received"),
        ("verification", "risk_assessment"),
        ("decision", "implementing"),
        ("measures", "review"),
        ("implementing", "measures"),
        ("implementing", "risk_assessment"),
        ("review", "decision"),
    ],
)
def test_refused_moves_name_the_allowed_next_states(vault, case_id, state, to_state):
    walk_to(vault, case_id, state)
    before, entries = casework.load(vault, case_id), audit.head(vault).count
    error = refused("transition_refused", workflow.move, vault, ACTOR, case_id, to_state)
    assert f"allowed next: {', '.join(workflow.next_states(state))}" in error.message
    assert casework.load(vault, case_id) == before and audit.head(vault).count == entries  # nothing written


@pytest.mark.parametrize("to_state", ["received", "measures", "implementing", "closed"])
def test_a_closed_case_only_reopens_into_review(vault, case_id, to_state):
    workflow.move(vault, ACTOR, case_id, "closed", "contact_lost")
    error = refused("transition_refused", workflow.move, vault, ACTOR, case_id, to_state, "contact_lost")
    assert "allowed next: review" in error.message


def test_closing_needs_a_reason_from_the_list(vault, case_id):
    refused("close_reason_required", workflow.move, vault, ACTOR, case_id, "closed")
    refused("close_reason_required", workflow.move, vault, ACTOR, case_id, "closed", "bored")
    refused("bad_state", workflow.move, vault, ACTOR, case_id, "archived")
    assert casework.load(vault, case_id).state == "received"


def test_leaving_risk_assessment_needs_an_assessment(vault, case_id):
    workflow.move(vault, ACTOR, case_id, "risk_assessment")
    refused("risk_not_assessed", workflow.move, vault, ACTOR, case_id, "verification")
    # Closing is not "leaving for the next step": contact lost before any assessment still closes.
    workflow.move(vault, ACTOR, case_id, "closed", "contact_lost")


def test_risk_scores_are_checked(vault, case_id):
    refused("bad_score", workflow.assess_risk, vault, ACTOR, case_id, 0, 3, 3)
    refused("bad_score", workflow.assess_risk, vault, ACTOR, case_id, 3, 6, 3)
    refused("bad_score", workflow.assess_risk, vault, ACTOR, case_id, 3, 3, True)
    risk = workflow.assess_risk(vault, ACTOR, case_id, 1, 2, 5)
    assert (risk.score, risk.level) == (0.4, "low")


def test_unknown_case(vault):
    refused("unknown_case", workflow.move, vault, ACTOR, "0" * 32, "risk_assessment")


# -- letters to the State -----------------------------------------------------------------------


@pytest.fixture
def state_case(vault, desks, tmp_path, monkeypatch):
    """A case whose person allows private action toward the State, with verified facts."""
    set_today(monkeypatch, "2026-11-25")
    case_id = import_case(vault, desks, tmp_path, **STATE_OK).case_id
    walk_to(vault, case_id, "measures")
    workflow.set_verification(vault, ACTOR, case_id, "verified")
    return case_id


def test_a_letter_to_the_state_needs_verified_facts(vault, state_case):
    for status in ("unverified", "in_progress", "not_verifiable"):
        workflow.set_verification(vault, ACTOR, state_case, status)
        refused("not_verified", workflow.state_letter_sent, vault, ACTOR, state_case)
    workflow.set_verification(vault, ACTOR, state_case, "verified")
    letter = workflow.state_letter_sent(vault, ACTOR, state_case, reply_due="2026-12-10", note="asked for release")
    assert (letter.number, letter.sent, letter.reply_due, letter.received) == (1, "2026-11-25", "2026-12-10", None)


@pytest.mark.parametrize(
    "fields",
    [
        {},  # not answered: counts as no
        {"consent": {"state_action": "none"}},
        {"consent": {"state_action": "public"}, "reporter_role": "intermediary"},  # the victim's consent is missing
        {"consent": {"state_action": "public"}, "reporter_role": "intermediary", "victim_consent": {"state_action": "none"}},
    ],
)
def test_a_letter_to_the_state_needs_consent(vault, desks, tmp_path, monkeypatch, fields):
    set_today(monkeypatch, "2026-11-25")
    case_id = import_case(vault, desks, tmp_path, **fields).case_id
    workflow.set_verification(vault, ACTOR, case_id, "verified")
    with pytest.raises(ConsentMissing) as caught:
        workflow.state_letter_sent(vault, ACTOR, case_id)
    assert caught.value.code == "consent_missing" and "action toward the State" in caught.value.message
    assert casework.load(vault, case_id).state_letters == []


def test_withdrawn_consent_stops_letters_to_the_state(vault, desks, tmp_path, monkeypatch):
    set_today(monkeypatch, "2026-11-25")
    submitter = import_case(vault, desks, tmp_path, consent={"state_action": "public"}, reporter_role="victim")
    workflow.set_verification(vault, ACTOR, submitter.case_id, "verified")
    workflow.state_letter_sent(vault, ACTOR, submitter.case_id)
    import_followup(vault, desks, tmp_path, submitter, 1, withdraw=True)
    with pytest.raises(ConsentMissing):
        workflow.state_letter_sent(vault, ACTOR, submitter.case_id)


def test_an_unanswered_letter_keeps_the_case_open(vault, state_case):
    workflow.state_letter_sent(vault, ACTOR, state_case, reply_due="2026-12-10")
    for reason in ("threat_ended", "risk_acceptable", "contact_lost"):
        error = refused("state_reply_pending", workflow.move, vault, ACTOR, state_case, "closed", reason)
        assert "letter 1" in error.message
    letter = workflow.state_reply_received(vault, ACTOR, state_case, 1)
    assert letter.received == "2026-11-25"
    refused("already_received", workflow.state_reply_received, vault, ACTOR, state_case, 1)
    refused("unknown_letter", workflow.state_reply_received, vault, ACTOR, state_case, 2)
    assert workflow.move(vault, ACTOR, state_case, "closed", "threat_ended").state == "closed"


def test_a_withdrawal_closes_even_while_the_state_has_not_replied(vault, state_case):
    workflow.state_letter_sent(vault, ACTOR, state_case)
    assert workflow.move(vault, ACTOR, state_case, "closed", "consent_withdrawn").state == "closed"
    assert audit.entries(vault)[-1].detail == {"from": "measures", "to": "closed", "reason": "consent_withdrawn", "letters_pending": [1]}
    refused("case_closed", workflow.state_letter_sent, vault, ACTOR, state_case)
    workflow.state_reply_received(vault, ACTOR, state_case, 1)  # a late reply is still logged


def test_bad_days_are_refused(vault, state_case):
    for day in ("2026-13-01", "20261201", "soon", "2026-02-30"):
        refused("bad_day", workflow.state_letter_sent, vault, ACTOR, state_case, reply_due=day)
        refused("bad_day", workflow.set_next_review, vault, ACTOR, state_case, day)


# -- measures, notes, reviews ---------------------------------------------------------------


def test_measures_from_the_catalogue(vault, case_id):
    assert workflow.add_measure(vault, ACTOR, case_id, "relocation", "safe house") == 1
    assert workflow.add_measure(vault, ACTOR, case_id, "visibility") == 2
    measure = workflow.set_measure_status(vault, ACTOR, case_id, 1, "in_place")
    assert (measure.kind, measure.status, measure.note) == ("relocation", "in_place", "safe house")
    refused("bad_measure", workflow.add_measure, vault, ACTOR, case_id, "prayer")
    refused("bad_measure_status", workflow.set_measure_status, vault, ACTOR, case_id, 1, "done")
    refused("unknown_measure", workflow.set_measure_status, vault, ACTOR, case_id, 3, "ended")
    work = casework.load(vault, case_id)
    assert [(m.kind, m.status) for m in work.measures] == [("relocation", "in_place"), ("visibility", "planned")]
    workflow.move(vault, ACTOR, case_id, "closed", "risk_acceptable")
    refused("case_closed", workflow.add_measure, vault, ACTOR, case_id, "advocacy")
    workflow.set_measure_status(vault, ACTOR, case_id, 1, "ended")  # ending one after closing is fine


def test_notes_and_next_review(vault, case_id):
    assert workflow.add_note(vault, ACTOR, case_id, "called the lawyer") == 1
    refused("empty_note", workflow.add_note, vault, ACTOR, case_id, "  ")
    refused("too_long", workflow.add_note, vault, ACTOR, case_id, "x" * 5001)
    workflow.set_next_review(vault, ACTOR, case_id, "2026-12-01")
    work = casework.load(vault, case_id)
    assert [n.text for n in work.notes] == ["called the lawyer"] and work.next_review == "2026-12-01"
    assert not work.review_overdue("2026-12-01") and work.review_overdue("2026-12-02")


def test_each_change_writes_one_small_audit_entry(vault, state_case):
    start = audit.head(vault).count
    workflow.add_note(vault, ACTOR, state_case, "the secret words of the note")
    workflow.assess_risk(vault, ACTOR, state_case, 4, 3, 2, notes="private reasoning")
    workflow.state_letter_sent(vault, ACTOR, state_case, reply_due="2026-12-10", note="the letter")
    workflow.add_measure(vault, ACTOR, state_case, "advocacy", "measure words")
    entries = audit.entries(vault)[start:]
    assert [(e.action, e.actor, e.case_id) for e in entries] == [
        ("note", ACTOR, state_case),
        ("assess_risk", ACTOR, state_case),
        ("state_letter_sent", ACTOR, state_case),
        ("add_measure", ACTOR, state_case),
    ]
    assert entries[0].detail == {"number": 1, "chars": 28}
    assert entries[1].detail == {"threats": 4, "vulnerabilities": 3, "capacities": 2, "level": "high", "urgency": None}
    assert entries[2].detail == {"number": 1, "reply_due": "2026-12-10"}
    assert "words" not in str([e.detail for e in entries]) and "reasoning" not in str([e.detail for e in entries])
    assert audit.verify(vault).count == start + 4


# -- the status the submitter sees --------------------------------------------------------------


@pytest.mark.parametrize(
    "state, status",
    [
        ("received", "received"),
        ("risk_assessment", "assessing"),
        ("verification", "assessing"),
        ("decision", "assessing"),
        ("measures", "action_under_way"),
        ("implementing", "action_under_way"),
        ("review", "action_under_way"),
    ],
)
def test_submitter_status_follows_the_workflow(vault, case_id, state, status):
    walk_to(vault, case_id, state)
    assert workflow.submitter_status(casework.load(vault, case_id)) == status


def test_submitter_status_awaiting_the_state_and_closed(vault, state_case):
    workflow.state_letter_sent(vault, ACTOR, state_case)
    assert workflow.submitter_status(casework.load(vault, state_case)) == "awaiting_state_reply"
    workflow.move(vault, ACTOR, state_case, "implementing")
    assert workflow.submitter_status(casework.load(vault, state_case)) == "awaiting_state_reply"
    workflow.state_reply_received(vault, ACTOR, state_case, 1)
    assert workflow.submitter_status(casework.load(vault, state_case)) == "action_under_way"
    workflow.move(vault, ACTOR, state_case, "closed", "threat_ended")
    assert workflow.submitter_status(casework.load(vault, state_case)) == "closed"


# -- still-open notices --------------------------------------------------------------------------


def test_still_open_notices_go_to_silent_open_cases_only(vault, desks, tmp_path, monkeypatch, manifest):
    set_today(monkeypatch, "2026-11-20")
    silent = import_case(vault, desks, tmp_path)  # no reply, received 40 days before
    answered_late = import_case(vault, desks, tmp_path)  # last reply 35 days before
    answered_recently = import_case(vault, desks, tmp_path)  # last reply 10 days before
    closed = import_case(vault, desks, tmp_path)  # silent, but closed
    exactly = import_case(vault, desks, tmp_path, day="2026-11-30")  # received exactly 30 days before: not older
    set_today(monkeypatch, "2026-11-25")
    write_reply(vault, answered_late.case_id, "received", "We have it.", actor=ACTOR)
    walk_to(vault, answered_late.case_id, "measures")
    set_today(monkeypatch, "2026-12-20")
    write_reply(vault, answered_recently.case_id, "received", "We have it.", actor=ACTOR)
    workflow.move(vault, ACTOR, closed.case_id, "closed", "contact_lost")

    set_today(monkeypatch, "2026-12-30")
    before = audit.head(vault).count
    sent = workflow.send_still_open_notices(vault, ACTOR, 30)
    assert sorted(n.case_id for n in sent) == sorted([silent.case_id, answered_late.case_id])
    assert {n.case_id: n.status for n in sent} == {silent.case_id: "received", answered_late.case_id: "action_under_way"}
    notices = [e for e in audit.entries(vault)[before:]]
    assert [e.action for e in notices] == ["notice", "notice"] and all(e.detail["notice"] == "still_open" for e in notices)

    for submitter, seq, status in ((silent, 1, "received"), (answered_late, 2, "action_under_way")):
        record = vault.get(REPLY, vault.rid(REPLY, submitter.case_id, seq))
        reply = open_reply(b64decode(record["blob"]), manifest, submitter.keys.reply_public, submitter.keys.reply_secret, submitter.case_id)
        assert (reply.notice, reply.status, reply.text, reply.day) == ("still_open", status, "", "2026-12-30")

    # A notice is a reply: the cases it reached are not silent any more.
    assert workflow.send_still_open_notices(vault, ACTOR, 30) == []
    assert [n.case_id for n in workflow.send_still_open_notices(vault, ACTOR, 29)] == [exactly.case_id]


def test_path_to_reaches_every_open_state():
    assert set(PATH_TO) == set(OPEN_STATES)
