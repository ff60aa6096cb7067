"""The focal point's case workflow: the only code that changes a case's casework record.

    received → risk_assessment → verification → decision → measures → implementing → review → closed

Besides the forward moves, a case under review can go back to measures (re-plan) or to
risk_assessment (re-assess), any open case can be closed with a reason, and a closed case
can be reopened into review. Every other move is refused (`transition_refused`).

Gates (REQUIREMENTS.md, "What the focal point does with it"):

- leaving risk_assessment for the next step needs an assessment made since the case
  entered it (`risk_not_assessed`);
- a case whose letter to the State awaits its reply cannot be closed ("Open – State has not
  responded" never drops a case), unless the person withdrew consent (`state_reply_pending`);
- a letter to the State needs the case's effective consent to action toward the State,
  private or public (`consent_missing`), and verified facts (`not_verified`).

Each change loads the record, changes it, saves it and writes ONE audit entry, all in one
vault transaction, so the log and the casework never disagree.
"""

from dataclasses import dataclass
from datetime import date
from typing import Callable

from pydantic import ValidationError

from crypto.report import Report, parse_report

from . import audit, casework, files
from .cases import CASE, FOLLOWUP, REPLY, get_case
from .casework import (
    CLOSE_REASONS,
    MEASURE_STATES,
    MEASURES,
    STATES,
    VERIFICATION,
    Casework,
    Measure,
    Note,
    RiskAssessment,
    StateLetter,
    Transition,
    URGENCY_LEVELS,
)
from .consent import ConsentMissing, case_consent
from .errors import WorkstationError
from .replies import last_reply_day, write_reply
from .vault import Vault

CLOSED, REVIEW, RISK = "closed", "review", "risk_assessment"
BACK_STEPS = {REVIEW: ("measures", RISK)}  # re-plan, re-assess
STATE_ACTION_ALLOWED = ("private", "public")
MAX_NOTE, MAX_REASON = 5000, 200


# -- which moves exist ------------------------------------------------------------------------


def next_states(state: str) -> tuple[str, ...]:
    """Every state a case in `state` may move to, in the order the workflow lists them."""
    if state == CLOSED:
        return (REVIEW,)
    forward = STATES[STATES.index(state) + 1]
    moves = [forward, *BACK_STEPS.get(state, ())]
    if CLOSED not in moves:
        moves.append(CLOSED)
    return tuple(moves)


def _check_move(work: Casework, to_state: str, reason: str | None) -> None:
    if to_state not in STATES:
        raise WorkstationError(f"unknown state {to_state!r} (one of {', '.join(STATES)})", code="bad_state")
    allowed = next_states(work.state)
    if to_state not in allowed:
        raise WorkstationError(
            f"a case in {work.state} cannot move to {to_state}; allowed next: {', '.join(allowed)}", code="transition_refused"
        )
    if to_state == CLOSED:
        _check_close(work, reason)
    elif work.state == RISK and len(work.risk) <= work.risk_count_at_entry:
        raise WorkstationError("record a risk assessment (ws assess) before leaving risk_assessment", code="risk_not_assessed")


def _check_close(work: Casework, reason: str | None) -> None:
    if reason not in CLOSE_REASONS:
        raise WorkstationError(f"closing a case needs a reason: one of {', '.join(CLOSE_REASONS)}", code="close_reason_required")
    pending = work.awaiting_state()
    # A withdrawal ends the focal point's work whatever the State does; nothing else may
    # let an unanswered letter drop out of sight.
    if pending and reason != "consent_withdrawn":
        numbers = ", ".join(str(letter.number) for letter in pending)
        raise WorkstationError(
            f"the State has not replied to letter {numbers}; the case stays open until it does (or consent is withdrawn)",
            code="state_reply_pending",
        )


# -- one change, one audit entry, one transaction ----------------------------------------------


def _change(vault: Vault, actor: str, case_id: str, action: str, apply: Callable[[Casework], dict]) -> Casework:
    """Load the case's casework, let `apply` change it (returning the audit detail), save it
    and log it, all or nothing."""
    with vault.transaction():
        work = casework.load(vault, case_id)
        try:
            detail = apply(work)
        except ValidationError as exc:  # a value the record refuses: say which, in one line
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise WorkstationError(f"{where}: {error['msg']}", code="bad_value") from None
        casework.save(vault, work)
        audit.record(vault, actor, action, case_id=case_id, detail=detail)
    return work


def _day(value: str | None, what: str) -> str | None:
    """A calendar day written YYYY-MM-DD, or None."""
    if value is None:
        return None
    try:
        date.fromisoformat(value)
        valid = len(value) == 10  # fromisoformat also takes 20261201; the vault keeps one spelling
    except ValueError:
        valid = False
    if not valid:
        raise WorkstationError(f"{what} must be a day written YYYY-MM-DD, not {value[:20]!r}", code="bad_day")
    return value


def _require_open(work: Casework, what: str) -> None:
    if not work.is_open:
        raise WorkstationError(f"the case is closed; reopen it (ws move --to review) before {what}", code="case_closed")


def _choice(value: str, options: tuple[str, ...], what: str, code: str) -> str:
    if value not in options:
        raise WorkstationError(f"unknown {what} {value!r} (one of {', '.join(options)})", code=code)
    return value


def _text(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise WorkstationError(f"{what} must be at most {limit} characters", code="too_long")
    return value


# -- the changes ------------------------------------------------------------------------------


def move(vault: Vault, actor: str, case_id: str, to_state: str, reason: str | None = None) -> Casework:
    """Move a case to `to_state`; closing needs a reason from CLOSE_REASONS."""
    if reason is not None:
        _text(reason, MAX_REASON, "a reason")

    def apply(work: Casework) -> dict:
        _check_move(work, to_state, reason)
        from_state, day = work.state, files.today()
        work.history = [*work.history, Transition(day=day, by=actor, from_state=from_state, to_state=to_state, reason=reason)]
        work.state = to_state
        if to_state == CLOSED:
            work.closed, work.close_reason = day, reason
        elif from_state == CLOSED:
            work.closed, work.close_reason = None, None  # reopened; the history keeps the closing
        if to_state == RISK:
            work.risk_count_at_entry = len(work.risk)
        detail = {"from": from_state, "to": to_state, **({"reason": reason} if reason else {})}
        if to_state == CLOSED and work.awaiting_state():
            # Only a withdrawal closes over an unanswered letter; the log keeps which ones.
            detail["letters_pending"] = [letter.number for letter in work.awaiting_state()]
        return detail

    return _change(vault, actor, case_id, "move", apply)


def assess_risk(
    vault: Vault,
    actor: str,
    case_id: str,
    threats: int,
    vulnerabilities: int,
    capacities: int,
    notes: str = "",
    urgency: str | None = None,
) -> RiskAssessment:
    """Record a risk assessment on the manual's equation (each factor 1–5), with the focal
    point's judgement of how urgently to act."""
    for name, value in (("threats", threats), ("vulnerabilities", vulnerabilities), ("capacities", capacities)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
            raise WorkstationError(f"{name} is scored from 1 to 5", code="bad_score")
    if urgency is not None:
        _choice(urgency, URGENCY_LEVELS, "urgency", "bad_urgency")
    _text(notes, MAX_NOTE, "the notes")
    assessment = RiskAssessment(
        day=files.today(), by=actor, threats=threats, vulnerabilities=vulnerabilities, capacities=capacities,
        urgency=urgency, notes=notes,
    )

    def apply(work: Casework) -> dict:
        work.risk = [*work.risk, assessment]
        return {"threats": threats, "vulnerabilities": vulnerabilities, "capacities": capacities, "level": assessment.level,
                "urgency": urgency}

    _change(vault, actor, case_id, "assess_risk", apply)
    return assessment


def set_verification(vault: Vault, actor: str, case_id: str, status: str) -> Casework:
    _choice(status, VERIFICATION, "verification status", "bad_verification")

    def apply(work: Casework) -> dict:
        before, work.verification = work.verification, status
        return {"from": before, "to": status}

    return _change(vault, actor, case_id, "verification", apply)


def add_measure(vault: Vault, actor: str, case_id: str, kind: str, note: str = "") -> int:
    """Plan a protective measure from the catalogue; returns its number (from 1)."""
    _choice(kind, MEASURES, "measure", "bad_measure")
    _text(note, MAX_NOTE, "a measure's note")

    def apply(work: Casework) -> dict:
        _require_open(work, "planning a measure")
        work.measures = [*work.measures, Measure(day=files.today(), by=actor, kind=kind, note=note)]
        return {"number": len(work.measures), "kind": kind}

    return len(_change(vault, actor, case_id, "add_measure", apply).measures)


def set_measure_status(vault: Vault, actor: str, case_id: str, number: int, status: str) -> Measure:
    _choice(status, MEASURE_STATES, "measure status", "bad_measure_status")

    def apply(work: Casework) -> dict:
        if not 1 <= number <= len(work.measures):
            raise WorkstationError(f"the case has no measure {number}", code="unknown_measure")
        measure = work.measures[number - 1]
        updated = measure.model_copy(update={"status": status})
        work.measures = [*work.measures[: number - 1], updated, *work.measures[number:]]
        return {"number": number, "kind": measure.kind, "from": measure.status, "to": status}

    return _change(vault, actor, case_id, "measure_status", apply).measures[number - 1]


def _check_state_action(vault: Vault, case_id: str, work: Casework) -> None:
    """Action toward the State needs the person's consent and verified facts."""
    case = get_case(vault, case_id)
    if case_consent(vault, case).effective().state_action not in STATE_ACTION_ALLOWED:
        raise ConsentMissing("action toward the State (private or public)")
    if work.verification != "verified":
        raise WorkstationError(
            f"the facts are {work.verification.replace('_', ' ')}; verify them (ws verify --status verified) before writing to the State",
            code="not_verified",
        )


def state_letter_sent(vault: Vault, actor: str, case_id: str, reply_due: str | None = None, note: str = "") -> StateLetter:
    """Log a letter sent to the State today; the case then awaits its reply."""
    reply_due = _day(reply_due, "the reply's due day")
    _text(note, MAX_NOTE, "a letter's note")

    def apply(work: Casework) -> dict:
        _require_open(work, "writing to the State")
        _check_state_action(vault, case_id, work)
        number = 1 + max((letter.number for letter in work.state_letters), default=0)
        work.state_letters = [*work.state_letters, StateLetter(number=number, sent=files.today(), by=actor, reply_due=reply_due, note=note)]
        return {"number": number, "reply_due": reply_due}

    return _change(vault, actor, case_id, "state_letter_sent", apply).state_letters[-1]


def state_reply_received(vault: Vault, actor: str, case_id: str, number: int) -> StateLetter:
    """Log the State's reply to letter `number` (allowed on a closed case too: it may come late)."""

    def apply(work: Casework) -> dict:
        letters = {letter.number: i for i, letter in enumerate(work.state_letters)}
        if number not in letters:
            raise WorkstationError(f"the case has no letter {number} to the State", code="unknown_letter")
        letter = work.state_letters[letters[number]]
        if letter.received is not None:
            raise WorkstationError(f"the State's reply to letter {number} was logged on {letter.received}", code="already_received")
        updated = letter.model_copy(update={"received": files.today()})
        work.state_letters = [updated if other.number == number else other for other in work.state_letters]
        return {"number": number}

    work = _change(vault, actor, case_id, "state_reply_received", apply)
    return next(letter for letter in work.state_letters if letter.number == number)


def add_note(vault: Vault, actor: str, case_id: str, text: str) -> int:
    """Add a note to the case; returns its number. The audit log records only its length."""
    if not text.strip():
        raise WorkstationError("a note needs text", code="empty_note")
    _text(text, MAX_NOTE, "a note")

    def apply(work: Casework) -> dict:
        work.notes = [*work.notes, Note(day=files.today(), by=actor, text=text)]
        return {"number": len(work.notes), "chars": len(text)}

    return len(_change(vault, actor, case_id, "note", apply).notes)


def set_next_review(vault: Vault, actor: str, case_id: str, day: str) -> Casework:
    day = _day(day, "the review day")

    def apply(work: Casework) -> dict:
        _require_open(work, "planning a review")
        before, work.next_review = work.next_review, day
        return {"from": before, "to": day}

    return _change(vault, actor, case_id, "next_review", apply)


# -- what the submitter sees --------------------------------------------------------------------

_SUBMITTER_STATUS = {
    "received": "received",
    "risk_assessment": "assessing",
    "verification": "assessing",
    "decision": "assessing",
    "measures": "action_under_way",
    "implementing": "action_under_way",
    "review": "action_under_way",
    "closed": "closed",
}
assert set(_SUBMITTER_STATUS) == set(STATES)


def submitter_status(work: Casework) -> str:
    """The reply status the submitter sees for the case's workflow state. Never
    `more_information_needed`: only the focal point chooses that."""
    status = _SUBMITTER_STATUS[work.state]
    if status == "action_under_way" and work.awaiting_state():
        return "awaiting_state_reply"
    return status


def days_between(first: str, last: str) -> int:
    return (date.fromisoformat(last) - date.fromisoformat(first)).days


@dataclass(frozen=True)
class NoticeDue:
    case_id: str
    status: str


def notices_due(vault: Vault, cases: list[dict], after_days: int, today: str) -> list[NoticeDue]:
    """Open cases that have heard nothing for more than `after_days`: their last reply, or
    (with none) their receipt, is older than that. Closed cases get nothing."""
    due = []
    for case in cases:
        work = casework.load(vault, case["case_id"])
        if not work.is_open:
            continue
        since = last_reply_day(vault, case["case_id"]) or case["day"]
        if days_between(since, today) > after_days:
            due.append(NoticeDue(case["case_id"], submitter_status(work)))
    return due


def send_still_open_notices(vault: Vault, actor: str, after_days: int, text: str = "") -> list[NoticeDue]:
    """Write a still-open notice (audited, like every reply) to each case `notices_due` names,
    all in one transaction."""
    if after_days < 0:
        raise WorkstationError("--after-days cannot be negative", code="bad_days")
    with vault.transaction():
        due = notices_due(vault, [case for _, case in vault.records(CASE)], after_days, files.today())
        for notice in due:
            write_reply(vault, notice.case_id, notice.status, text, actor=actor, notice="still_open")
    return due


# -- the case list: what needs attention first ------------------------------------------------

SORTS = ("urgency", "age", "review")
_LAST_DAY = "9999-12-31"


def urgency_rank(report: Report, work: Casework | None = None) -> tuple[int, str]:
    """The focal point's latest assessed urgency when there is one (immediate, high, medium,
    low); else what the report says: detained or missing first, then an imminent threat,
    then an upcoming date (sooner first), then the rest. Within a rank, a sooner upcoming
    date goes first; the caller then orders by age."""
    assessed = work.latest_risk.urgency if work is not None and work.latest_risk is not None else None
    flags = set(report.urgency)
    upcoming = (report.upcoming_date or _LAST_DAY) if "upcoming_date" in flags or report.upcoming_date else ""
    if assessed is not None:
        return (URGENCY_LEVELS.index(assessed), upcoming)
    if flags & {"detained", "missing"}:
        return (0, "")
    if "imminent_threat" in flags:
        return (1, "")
    if upcoming:
        return (2, upcoming)
    return (3, "")


def urgency_label(report: Report, work: Casework | None = None) -> str:
    words = [flag.replace("_", " ") for flag in report.urgency if flag != "upcoming_date"]
    if "upcoming_date" in report.urgency or report.upcoming_date:
        words.append(f"date {report.upcoming_date}" if report.upcoming_date else "upcoming date")
    if work is not None and work.latest_risk is not None and work.latest_risk.urgency is not None:
        return f"assessed {work.latest_risk.urgency}" + (f" ({', '.join(words)})" if words else "")
    return ", ".join(words)


@dataclass(frozen=True)
class CaseRow:
    """One case as `ws cases` lists it."""

    case_id: str
    day: str
    age: int  # days since it was received
    country: str
    work: Casework
    urgency: tuple[int, str]
    urgency_label: str
    withdrawn: bool
    last_reply: str | None  # the status of the last reply
    followups: int
    review_overdue: bool
    state_overdue: bool

    @property
    def overdue(self) -> bool:
        return self.review_overdue or self.state_overdue


@dataclass(frozen=True)
class CaseFilter:
    state: str | None = None
    country: str | None = None
    open: bool | None = None  # True: open cases only, False: closed only
    overdue: bool = False
    verification: str | None = None

    def keeps(self, row: CaseRow) -> bool:
        return (
            (self.state is None or row.work.state == self.state)
            and (self.country is None or row.country == self.country.upper())
            and (self.open is None or row.work.is_open == self.open)
            and (not self.overdue or row.overdue)
            and (self.verification is None or row.work.verification == self.verification)
        )


def case_row(vault: Vault, case: dict, today: str) -> CaseRow:
    report = parse_report(case["report"])
    work = casework.load(vault, case["case_id"])
    replies = sorted((data for _, data in vault.records(REPLY, group=vault.case_group(case["case_id"]))), key=lambda r: r["seq"])
    return CaseRow(
        case_id=case["case_id"],
        day=case["day"],
        age=days_between(case["day"], today),
        country=report.country,
        work=work,
        urgency=urgency_rank(report, work),
        urgency_label=urgency_label(report, work),
        withdrawn=case_consent(vault, case).withdrawn,
        last_reply=replies[-1]["status"] if replies else None,
        followups=len(vault.records(FOLLOWUP, group=vault.case_group(case["case_id"]))),
        review_overdue=work.review_overdue(today),
        state_overdue=bool(work.state_reply_overdue(today)),
    )


def _sort_key(sort: str) -> Callable[[CaseRow], tuple]:
    # Open cases always come before closed ones: a closed case needs nothing today.
    if sort == "age":
        return lambda row: (not row.work.is_open, -row.age, row.case_id)
    if sort == "review":
        return lambda row: (not row.work.is_open, row.work.next_review or _LAST_DAY, row.urgency, -row.age, row.case_id)
    return lambda row: (not row.work.is_open, row.urgency, -row.age, row.case_id)


def case_list(vault: Vault, today: str, *, sort: str = "urgency", keep: CaseFilter = CaseFilter()) -> list[CaseRow]:
    """The cases `keep` keeps, ordered by `sort` (urgency then age by default)."""
    _choice(sort, SORTS, "sort", "bad_sort")
    rows = [case_row(vault, case, today) for _, case in vault.records(CASE)]
    return sorted((row for row in rows if keep.keeps(row)), key=_sort_key(sort))
