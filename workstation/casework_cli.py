"""`quietline ws move | assess | verify | measure | state-letter | note | review | notify-open |
audit`: the focal point's casework, each change made by workflow.py (which gates it and writes
the audit log), and the pieces `ws cases` and `ws show` print the casework with.

Everything from a report, and everything a person typed, is shown through `text`, so no
terminal escape or rich markup in it is ever interpreted.
"""

import json
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crypto.report import REFERRAL_KINDS, REPORT_FIELDS, ConsentSet

from . import audit, casework, workflow
from .cases import find_case
from .casework import CLOSE_REASONS, MEASURE_STATES, MEASURES, STATES, URGENCY_LEVELS, VERIFICATION, Casework
from .consent import REFERRAL_LABELS, CaseConsent
from .errors import CommandGroup, printable

if TYPE_CHECKING:  # cli.py imports this module to register its commands
    from .cli import WsContext

WIDE = 240  # columns for a table that is not going to a terminal


def console(*, wide: bool = False) -> Console:
    # Soft wrap: long lines are the terminal's to wrap, so text piped to a file stays whole.
    out = Console(highlight=False, soft_wrap=True)
    if wide and not out.is_terminal:
        out.width = WIDE  # a table piped to a file or a test keeps each row on one line
    return out


def text(value: object, style: str | None = None) -> Text:
    """Anything from a report or a person, shown literally: no markup, no terminal control."""
    return Text(printable(value), style=style or "")


def _case_id(state: "WsContext", reference: str) -> str:
    return find_case(state.vault(), reference)["case_id"]


# -- the casework commands ---------------------------------------------------------------------


@click.command("move")
@click.argument("case")
@click.option("--to", "to_state", required=True, type=click.Choice(STATES), help="The state to move the case to.")
@click.option("--reason", help=f"Why; closing needs one of {', '.join(CLOSE_REASONS)}.")
@click.pass_obj
def move_cmd(state: "WsContext", case: str, to_state: str, reason: str | None) -> None:
    """Move a case along the workflow (forward, review back to measures or risk_assessment,
    any open state to closed with a reason, closed back to review)."""
    case_id = _case_id(state, case)
    before = casework.load(state.vault(), case_id).state
    work = workflow.move(state.vault(), state.operator, case_id, to_state, reason)
    click.echo(f"case {case_id[:8]}: {before} -> {work.state}" + (f" ({reason})" if reason else ""))


@click.command("assess")
@click.argument("case")
@click.option("--threats", required=True, type=click.IntRange(1, 5), help="1 (low) to 5 (high).")
@click.option("--vulnerabilities", required=True, type=click.IntRange(1, 5), help="1 (low) to 5 (high).")
@click.option("--capacities", required=True, type=click.IntRange(1, 5), help="1 (low) to 5 (high): what protects the person.")
@click.option("--urgency", type=click.Choice(URGENCY_LEVELS), help="How soon to act, in your judgement; orders `ws cases`.")
@click.option("--notes", default="", help="What the scores rest on.")
@click.pass_obj
def assess_cmd(
    state: "WsContext", case: str, threats: int, vulnerabilities: int, capacities: int, urgency: str | None, notes: str
) -> None:
    """Record a risk assessment: risk = threats x vulnerabilities / capacities."""
    case_id = _case_id(state, case)
    risk = workflow.assess_risk(state.vault(), state.operator, case_id, threats, vulnerabilities, capacities, notes, urgency)
    click.echo(f"case {case_id[:8]}: risk {risk.score:.1f} ({risk.level})" + (f", urgency {urgency}" if urgency else ""))


@click.command("verify")
@click.argument("case")
@click.option("--status", required=True, type=click.Choice(VERIFICATION), help="How far the facts are verified.")
@click.pass_obj
def verify_cmd(state: "WsContext", case: str, status: str) -> None:
    """Set how far the facts of a case are verified (action toward the State needs verified)."""
    case_id = _case_id(state, case)
    workflow.set_verification(state.vault(), state.operator, case_id, status)
    click.echo(f"case {case_id[:8]}: verification {status}")


@click.command("measure")
@click.argument("case")
@click.option("--add", "kind", type=click.Choice(MEASURES), help="Plan a protective measure of this kind.")
@click.option("--note", default="", help="With --add: what the measure is.")
@click.option("--set", "number", type=click.IntRange(1), help="The number of a measure to update (with --status).")
@click.option("--status", type=click.Choice(MEASURE_STATES), help="With --set: the measure's new status.")
@click.pass_obj
def measure_cmd(state: "WsContext", case: str, kind: str | None, note: str, number: int | None, status: str | None) -> None:
    """Plan a protective measure (--add KIND) or change one's status (--set N --status S)."""
    if (kind is None) == (number is None):
        raise click.UsageError("give either --add KIND or --set N --status S")
    if number is not None and status is None:
        raise click.UsageError("--set needs --status")
    case_id = _case_id(state, case)
    if kind is not None:
        added = workflow.add_measure(state.vault(), state.operator, case_id, kind, note)
        click.echo(f"case {case_id[:8]}: measure {added} ({kind}) planned")
    else:
        measure = workflow.set_measure_status(state.vault(), state.operator, case_id, number, status)
        click.echo(f"case {case_id[:8]}: measure {number} ({measure.kind}) {status}")


@click.command("state-letter")
@click.argument("case")
@click.option("--sent", is_flag=True, help="Log a letter sent to the State today.")
@click.option("--due", help="With --sent: the day the State's reply is due (YYYY-MM-DD).")
@click.option("--note", default="", help="With --sent: what the letter said or asked.")
@click.option("--received", "number", type=click.IntRange(1), help="Log the State's reply to letter N.")
@click.pass_obj
def state_letter_cmd(state: "WsContext", case: str, sent: bool, due: str | None, note: str, number: int | None) -> None:
    """Log correspondence with the State: a letter sent (--sent), or its reply (--received N)."""
    if sent == (number is not None):
        raise click.UsageError("give either --sent or --received N")
    case_id = _case_id(state, case)
    if sent:
        letter = workflow.state_letter_sent(state.vault(), state.operator, case_id, due, note)
        due_text = f", reply due {letter.reply_due}" if letter.reply_due else ""
        click.echo(f"case {case_id[:8]}: letter {letter.number} to the State sent{due_text}")
    else:
        workflow.state_reply_received(state.vault(), state.operator, case_id, number)
        click.echo(f"case {case_id[:8]}: the State's reply to letter {number} logged")


@click.command("note")
@click.argument("case")
@click.argument("note_text", metavar="TEXT")
@click.pass_obj
def note_cmd(state: "WsContext", case: str, note_text: str) -> None:
    """Add a note to a case."""
    case_id = _case_id(state, case)
    number = workflow.add_note(state.vault(), state.operator, case_id, note_text)
    click.echo(f"case {case_id[:8]}: note {number} added")


@click.command("review")
@click.argument("case")
@click.option("--on", "day", required=True, help="The day of the next review (YYYY-MM-DD).")
@click.pass_obj
def review_cmd(state: "WsContext", case: str, day: str) -> None:
    """Set the day a case is next reviewed."""
    case_id = _case_id(state, case)
    workflow.set_next_review(state.vault(), state.operator, case_id, day)
    click.echo(f"case {case_id[:8]}: next review {day}")


@click.command("notify-open")
@click.option("--after-days", default=30, show_default=True, type=click.IntRange(0), help="Notify cases silent for longer than this.")
@click.option("--message", default="", help="Optional words to go with the notice (the client shows its own).")
@click.pass_obj
def notify_open_cmd(state: "WsContext", after_days: int, message: str) -> None:
    """Tell every open case that has heard nothing for a while that it is still open."""
    sent = workflow.send_still_open_notices(state.vault(), state.operator, after_days, message)
    click.echo(f"{len(sent)} still-open notice{'' if len(sent) == 1 else 's'} stored; they leave with the next export")
    for notice in sent:
        click.echo(f"  case {notice.case_id[:8]} ({notice.status})")


# -- the audit log ----------------------------------------------------------------------------


@click.group("audit", cls=CommandGroup)
def audit_group() -> None:
    """The hash-chained log of everything that changed the vault."""


@audit_group.command("verify")
@click.pass_obj
def audit_verify_cmd(state: "WsContext") -> None:
    """Check the whole chain; prints its length and head hash (write it down to compare later)."""
    head = audit.verify(state.vault())
    click.echo(f"audit log intact: {head.count} entr{'y' if head.count == 1 else 'ies'}, head {head.hash}")


@audit_group.command("log")
@click.option("--case", "case_ref", help="Only the entries about this case.")
@click.pass_obj
def audit_log_cmd(state: "WsContext", case_ref: str | None) -> None:
    """Show the audit log (as stored; `ws audit verify` checks it)."""
    vault = state.vault()
    case_id = find_case(vault, case_ref)["case_id"] if case_ref else None
    entries = [e for e in audit.entries(vault) if case_id is None or e.case_id == case_id]
    if not entries:
        click.echo("no audit entries")
        return
    table = Table(title=f"audit log: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}")
    for column in ("#", "day", "actor", "action", "case", "detail"):
        table.add_column(column, no_wrap=column != "detail")
    for e in entries:
        detail = json.dumps(e.detail, ensure_ascii=False, sort_keys=True)
        table.add_row(str(e.seq), e.day, text(e.actor), e.action, (e.case_id or "-")[:8], text(detail))
    console(wide=True).print(table)


COMMANDS = (move_cmd, assess_cmd, verify_cmd, measure_cmd, state_letter_cmd, note_cmd, review_cmd, notify_open_cmd, audit_group)


def register(group: click.Group) -> None:
    for command in COMMANDS:
        group.add_command(command)


# -- `ws cases`: the table --------------------------------------------------------------------


def _review_cell(row: workflow.CaseRow) -> str:
    if row.work.next_review is None:
        return "-"
    return f"{row.work.next_review} OVERDUE" if row.review_overdue else row.work.next_review


def _state_letter_cell(row: workflow.CaseRow) -> str:
    awaited = row.work.awaiting_state()
    if not awaited:
        return "-"
    return "reply OVERDUE" if row.state_overdue else f"awaiting reply ({len(awaited)})"


def cases_table(rows: list[workflow.CaseRow], title: str) -> Table:
    table = Table(title=title)
    columns = ("case", "received", "age", "country", "state", "urgency", "verification", "risk", "next review",
               "State", "consent", "last reply", "follow-ups")
    for column in columns:
        table.add_column(column, no_wrap=True, justify="right" if column in ("age", "follow-ups") else "left")
    for row in rows:
        risk = row.work.latest_risk
        table.add_row(
            row.case_id[:8], row.day, str(row.age), text(row.country), row.work.state, text(row.urgency_label or "-"),
            row.work.verification.replace("_", " "), risk.level if risk else "-", _review_cell(row),
            _state_letter_cell(row), "WITHDRAWN" if row.withdrawn else "-", row.last_reply or "none (new)",
            str(row.followups),
        )
    return table


# -- `ws show`: the report, the consent, the casework -----------------------------------------

FIELD_LABELS = {
    "country": "country",
    "place": "place",
    "date": "date of events",
    "engagement": "engagement with the UN",
    "un_bodies": "UN bodies",
    "un_body_detail": "UN body detail",
    "timing": "timing",
    "reprisal_types": "reprisal types",
    "perpetrators": "perpetrators",
    "perpetrator_detail": "perpetrator detail",
    "reporter_role": "reporter's role",
    "reporter_name": "reporter's name",
    "organisation": "organisation",
    "affected": "people affected",
    "urgency": "urgency",
    "upcoming_date": "upcoming risky date",
    "urgency_detail": "urgency detail",
    "gender": "gender",
    "groups": "groups",
    "remedies": "domestic remedies tried",
    "remedies_outcome": "outcome of remedies",
}
NOT_LISTED = ("schema", "text", "consent", "victim_consent")  # the account and consent have sections of their own
assert {name for name, _ in REPORT_FIELDS} == set(FIELD_LABELS) | set(NOT_LISTED)

CONSENT_LABELS = {
    "use_information": "use of the information",
    "use_name": "use of names",
    "use_media": "use of photos, video and audio",
    "state_action": "action toward the State",
    "sg_report": "Secretary-General's annual report",
}
UNANSWERED = "not answered (counts as no)"


def _person(person: dict) -> str:
    words = [person.get("relation", "?")]
    if person.get("name"):
        words.append(person["name"])
    line = ": ".join(words)
    return f"{line} ({person['detail']})" if person.get("detail") else line


def report_lines(report: dict) -> list[Text]:
    """Every report field but the account and consent, labelled, in the schema's order."""
    lines = []
    for name, label in FIELD_LABELS.items():
        value = report.get(name)
        if value is None or value == "" or value == []:
            lines.append(text(f"{label}: not given", "dim"))
        elif name == "affected":
            lines.append(text(f"{label}:"))
            lines.extend(text(f"  - {_person(person)}") for person in value)
        elif isinstance(value, list):
            lines.append(text(f"{label}: {', '.join(map(str, value))}"))
        else:
            lines.append(text(f"{label}: {value}"))
    return lines


def _consent_answers(consent: dict) -> list[tuple[str, str | None]]:
    """(label, answer) for every question, referral kinds one by one; None when unanswered."""
    answers = [(label, consent.get(name)) for name, label in CONSENT_LABELS.items()]
    referral = consent.get("referral") or {}
    answers += [(f"referral to {label}", referral.get(kind)) for kind, label in REFERRAL_LABELS.items()]
    return answers


def consent_lines(consent: ConsentSet | None, *, indent: str = "  ") -> list[Text]:
    answers = _consent_answers(consent.to_json() if consent is not None else {})
    return [text(f"{indent}{label}: {answer or UNANSWERED}") for label, answer in answers]


def case_consent_lines(consent: CaseConsent) -> list[Text]:
    lines = [text("reporter's consent (as it stands after follow-ups):")] + consent_lines(consent.reporter)
    if consent.intermediary and consent.victim is None:
        lines.append(text("victim's consent: not recorded (every question counts as no)"))
    elif consent.intermediary:
        lines += [text("victim's consent (as it stands after follow-ups):")] + consent_lines(consent.victim)
    if consent.withdrawn:
        lines.append(text("CONSENT WITHDRAWN by a follow-up: every use is refused", "bold"))
    lines.append(text("effective consent (what the focal point may do):"))
    lines += consent_lines(consent.effective())
    return lines


def followup_change_lines(followup: dict) -> list[Text]:
    """What a follow-up changed in consent, question by question."""
    lines = []
    for key, whose in (("consent", "reporter's"), ("victim_consent", "victim's")):
        change = followup.get(key)
        if change:
            answered = [f"{label}: {answer}" for label, answer in _consent_answers(change) if answer is not None]
            lines.append(text(f"  changes the {whose} consent: {'; '.join(answered)}"))
    if followup.get("withdraw"):
        lines.append(text("  WITHDRAWS CONSENT: every use is refused from now on", "bold"))
    if followup.get("server_deleted"):
        lines.append(text("  the server deleted the case and all it held when the person withdrew: nothing more will come by it"))
    return lines


def casework_lines(work: Casework, today: str) -> list[Text]:
    lines = [text(f"state: {work.state} (opened {work.opened})")]
    if work.closed:
        lines.append(text(f"closed {work.closed}: {(work.close_reason or '').replace('_', ' ')}"))
    lines.append(text(f"verification: {work.verification.replace('_', ' ')}"))
    lines.append(text(f"next review: {_review_text(work, today)}"))
    lines += _section("risk assessments", [_risk_line(r) for r in work.risk])
    lines += _section("measures", [f"{i}. {m.kind.replace('_', ' ')}: {m.status.replace('_', ' ')} (planned {m.day} by {m.by})"
                                   + (f": {m.note}" if m.note else "") for i, m in enumerate(work.measures, start=1)])
    lines += _section("letters to the State", [_letter_line(letter, today) for letter in work.state_letters])
    lines += _section("referrals", [f"{r.day} by {r.by}: {r.recipient_kind} to {r.recipient} (key {r.fingerprint}), "
                                    f"carrying {', '.join(r.included) or 'nothing'}; file {r.file}" for r in work.referrals])
    lines += _section("notes", [f"{n.day} by {n.by}: {n.text}" for n in work.notes])
    lines += _section("history", [f"{t.day} by {t.by}: {t.from_state} -> {t.to_state}" + (f" ({t.reason})" if t.reason else "")
                                  for t in work.history])
    return lines


def _section(title: str, items: list[str]) -> list[Text]:
    if not items:
        return [text(f"{title}: none")]
    return [text(f"{title}:")] + [text(f"  {item}") for item in items]


def _review_text(work: Casework, today: str) -> str:
    if work.next_review is None:
        return "not set"
    return f"{work.next_review} (OVERDUE)" if work.review_overdue(today) else work.next_review


def _risk_line(risk) -> str:
    line = (f"{risk.day} by {risk.by}: threats {risk.threats} x vulnerabilities {risk.vulnerabilities} / "
            f"capacities {risk.capacities} = {risk.score:.1f} ({risk.level})"
            + (f", urgency {risk.urgency}" if risk.urgency else ""))
    return f"{line}: {risk.notes}" if risk.notes else line


def _letter_line(letter, today: str) -> str:
    line = f"{letter.number}. sent {letter.sent} by {letter.by}"
    if letter.reply_due:
        line += f", reply due {letter.reply_due}"
    if letter.received:
        line += f"; the State replied {letter.received}"
    elif letter.reply_due and letter.reply_due < today:
        line += "; State has not responded (OVERDUE)"
    else:
        line += "; State has not responded"
    return f"{line}: {letter.note}" if letter.note else line
