"""Statistics for the Secretary-General's annual report and for trend analysis, and the
Secretary-General's list of cases: both within consent.

A case counts only when its effective consent allows the use of the information; for the
Secretary-General's report it must also allow inclusion (named or anonymised). Cases left
out for lack of consent are counted, so the focal point knows the figures are partial.

Small counts are suppressed so that no one can be singled out: a count of 1 to N-1 is shown
as "<N". In a dimension where each case has exactly one value (country, verification,
period), the cells add up to the total, so a single suppressed cell could be worked out by
subtraction; there the next smallest cell is suppressed too.
"""

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from crypto.report import Report, parse_report

from .cases import CASE
from .casework import Casework, load as load_casework
from .consent import (
    CaseConsent,
    ConsentMissing,
    allows_names_in_sg_report,
    case_consent,
    require_information,
    require_not_closed_for_withdrawal,
    require_sg_report,
)
from .vault import Vault

PURPOSES = ("sg-report", "trends")
PERIODS = ("year", "quarter", "month")
NOT_STATED = "not stated"
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # always fullmatch
# Dimension -> whether each case has exactly one value (so cells add up to the total).
DIMENSIONS = {
    "country": True,
    "reprisal_type": False,
    "perpetrator": False,
    "un_body": False,
    "group": False,
    "verification": True,
    "period": True,
}


@dataclass(frozen=True)
class CaseFacts:
    """What statistics and the list need to know about one case."""

    case_id: str
    day: str  # the day the report was received
    report: Report
    work: Casework
    consent: CaseConsent


def case_facts(vault: Vault) -> list[CaseFacts]:
    facts = []
    for _, case in vault.records(CASE):
        facts.append(
            CaseFacts(case["case_id"], case["day"], parse_report(case["report"]), load_casework(vault, case["case_id"]), case_consent(vault, case))
        )
    return sorted(facts, key=lambda f: (f.day, f.case_id))


def parse_day(text: str) -> str:
    """A YYYY-MM-DD day, checked to be a real date."""
    try:
        if not _DAY.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def period_label(day: str, period: str) -> str:
    year, month = day[:4], int(day[5:7])
    if period == "year":
        return year
    if period == "quarter":
        return f"{year}-Q{(month - 1) // 3 + 1}"
    return day[:7]


def dimension_values(facts: CaseFacts, by: str, period: str) -> list[str]:
    """The values a case counts under: one per value it has, "not stated" when none."""
    report = facts.report
    values = {
        "country": lambda: [report.country],
        "reprisal_type": lambda: list(report.reprisal_types),
        "perpetrator": lambda: list(report.perpetrators),
        "un_body": lambda: list(report.un_bodies),
        "group": lambda: list(report.groups),
        "verification": lambda: [facts.work.verification],
        "period": lambda: [period_label(facts.day, period)],
    }[by]()
    return values or [NOT_STATED]


def consented(facts: CaseFacts, purpose: str) -> bool:
    """Whether the case may be counted for `purpose`."""
    try:
        require_not_closed_for_withdrawal(facts.work)
        require_information(facts.consent)
        if purpose == "sg-report":
            require_sg_report(facts.consent)
    except ConsentMissing:
        return False
    return True


def carried_forward(facts: CaseFacts, first: str) -> bool:
    """Received before the period and still unresolved when it began."""
    return facts.day < first and (facts.work.closed is None or facts.work.closed >= first)


# -- the table -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatsQuery:
    first: str
    last: str
    by: str = "country"
    period: str = "month"
    min_count: int = 5
    purpose: str = "sg-report"


HIDDEN = "hidden"  # shown for a cell suppressed only so a small one cannot be derived


@dataclass(frozen=True)
class Cell:
    value: str
    count: int
    suppressed: bool
    secondary: bool = False  # suppressed although not small: "<N" would be untrue

    def shown(self, min_count: int) -> str:
        if self.secondary:
            return HIDDEN
        return f"<{min_count}" if self.suppressed else str(self.count)


@dataclass(frozen=True)
class Statistics:
    query: StatsQuery
    cells: list[Cell]  # sorted by value, never by count, so order tells nothing about suppressed cells
    total: int  # cases received in the period and counted
    carried_forward: int
    left_out: int  # received in the period, not counted for lack of consent
    left_out_carried: int  # the same among the carried-forward cases


def suppress(counts: dict[str, int], min_count: int, single_valued: bool) -> list[Cell]:
    small = {value for value, n in counts.items() if 0 < n < min_count}
    secondary = set()
    if single_valued and len(small) == 1:
        # The one small cell would be total minus the others: hide the next smallest too.
        others = sorted((n, value) for value, n in counts.items() if value not in small)
        if others:
            secondary.add(others[0][1])
    return [Cell(v, counts[v], v in small or v in secondary, v in secondary) for v in sorted(counts)]


def compute(all_facts: list[CaseFacts], query: StatsQuery) -> Statistics:
    received = [f for f in all_facts if query.first <= f.day <= query.last]
    earlier = [f for f in all_facts if carried_forward(f, query.first)]
    counted = [f for f in received if consented(f, query.purpose)]
    counted_earlier = [f for f in earlier if consented(f, query.purpose)]
    counts = Counter(value for f in counted for value in set(dimension_values(f, query.by, query.period)))
    return Statistics(
        query=query,
        cells=suppress(dict(counts), query.min_count, DIMENSIONS[query.by]),
        total=len(counted),
        carried_forward=len(counted_earlier),
        left_out=len(received) - len(counted),
        left_out_carried=len(earlier) - len(counted_earlier),
    )


CSV_HEADER = ("dimension", "value", "cases", "suppressed")


def csv_rows(stats: Statistics) -> list[tuple]:
    """The cells, then the totals, each row named by its dimension; a suppressed count is
    an empty value with `suppressed` true, so no spreadsheet mistakes "<5" for a number."""
    by = stats.query.by
    rows = [(by, c.value, "" if c.suppressed else c.count, "true" if c.suppressed else "false") for c in stats.cells]
    rows += [
        ("total", "received in the period", stats.total, "false"),
        ("carried_forward", "unresolved cases received before the period", stats.carried_forward, "false"),
        ("left_out", "no consent, received in the period", stats.left_out, "false"),
        ("left_out", "no consent, carried forward", stats.left_out_carried, "false"),
    ]
    return rows


def write_csv(raw: BinaryIO, header: tuple, rows: list[tuple]) -> None:
    """CSV (the csv module's quoting) into `raw`, a new file the caller names once the
    vault records it (outputs.py)."""
    text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    text.flush()
    text.detach()  # leave `raw` open for its owner to flush to disk and close


# -- the Secretary-General's list ------------------------------------------------------------------

ANONYMISED = "anonymised"
SG_HEADER = ("case", "received", "country", "date", "un_bodies", "reprisal_types", "perpetrators", "names")


@dataclass(frozen=True)
class SgEntry:
    case: str  # short id, for the focal point's own reference
    received: str
    country: str
    date: str
    un_bodies: tuple[str, ...]
    reprisal_types: tuple[str, ...]
    perpetrators: tuple[str, ...]
    names: str  # the names, or "anonymised"

    def row(self) -> tuple:
        return (
            self.case, self.received, self.country, self.date, "; ".join(self.un_bodies),
            "; ".join(self.reprisal_types), "; ".join(self.perpetrators), _cell(self.names),
        )


@dataclass(frozen=True)
class SgLeftOut:
    case: str
    reason: str  # the missing consent, or the missing verification


def _cell(text: str) -> str:
    # A name chosen by anyone must not run as a spreadsheet formula when the file is opened.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _names(report: Report) -> str:
    names = [p.name for p in report.affected if p.name]
    if report.reporter_role == "victim" and report.reporter_name and report.reporter_name not in names:
        names.insert(0, report.reporter_name)
    return "; ".join(names) or "(no name given)"


def sg_reason(facts: CaseFacts) -> str | None:
    """Why a case may not be in the Secretary-General's list, or None when it may."""
    try:
        require_not_closed_for_withdrawal(facts.work)
        require_information(facts.consent)
        require_sg_report(facts.consent)
    except ConsentMissing as missing:
        return f"{missing.missing} ({missing.reason})" if missing.reason else missing.missing
    if facts.work.verification != "verified":
        # Publication needs verification (REQUIREMENTS.md).
        return f"verification (the case is {facts.work.verification.replace('_', ' ')})"
    return None


def sg_list(all_facts: list[CaseFacts], year: int | None) -> tuple[list[SgEntry], list[SgLeftOut]]:
    entries, left_out = [], []
    for facts in all_facts:
        if year is not None and facts.day[:4] != f"{year:04d}":
            continue
        reason = sg_reason(facts)
        if reason is not None:
            left_out.append(SgLeftOut(facts.case_id[:8], reason))
            continue
        report = facts.report
        entries.append(
            SgEntry(
                case=facts.case_id[:8],
                received=facts.day,
                country=report.country,
                date=report.date,
                un_bodies=report.un_bodies,
                reprisal_types=report.reprisal_types,
                perpetrators=report.perpetrators,
                names=_names(report) if allows_names_in_sg_report(facts.consent) else ANONYMISED,
            )
        )
    return entries, left_out
