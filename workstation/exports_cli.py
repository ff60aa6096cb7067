"""`quietline ws refer | stats | sg-list`: every export of case information beyond the focal
point's own reading, each within the case's consent and each written to the audit log.

(`ws show --extract` is the focal point's own access to the evidence and stays as it is.)
"""

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crypto.report import REFERRAL_KINDS

from . import audit
from .errors import WorkstationError, printable
from .outputs import write_recorded
from .referral import FORMATS, ReferralRequest, refer
from .stats import (
    CSV_HEADER,
    DIMENSIONS,
    HIDDEN,
    PERIODS,
    PURPOSES,
    SG_HEADER,
    StatsQuery,
    case_facts,
    compute,
    csv_rows,
    parse_day,
    sg_list,
    write_csv,
)

if TYPE_CHECKING:  # cli.py imports this module to register its commands
    from .cli import WsContext


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _no_clobber(path: Path | None) -> None:
    """Refuse an existing output file before any work, not after it."""
    if path is not None and path.exists():
        raise WorkstationError(f"{path} already exists; not overwriting it", code="file_exists")


# -- ws refer ---------------------------------------------------------------------------------------


@click.command("refer")
@click.argument("case")
@click.option("--kind", required=True, type=click.Choice(REFERRAL_KINDS), help="Who the case is referred to.")
@click.option("--key", "key_file", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The recipient's OpenPGP public key (one key, armoured or binary).")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The encrypted file to write.")
@click.option("--with-names", is_flag=True, help="Include the names of the reporter and the affected people (needs consent).")
@click.option("--with-media", is_flag=True, help="Include the attachments (needs consent to the use of photos and media).")
@click.option("--attachment", "attachments", multiple=True, metavar="NAME",
              help="With --with-media: include only this attachment (repeat for more).")
@click.option("--armor/--binary", default=True, show_default=True, help="ASCII-armoured (.asc) or binary (.gpg) output.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="The referral document's form.")
@click.pass_obj
def refer_cmd(state: "WsContext", case: str, kind: str, key_file: Path, out: Path, with_names: bool,
              with_media: bool, attachments: tuple[str, ...], armor: bool, fmt: str) -> None:
    """Export a case to a referral recipient, encrypted to their OpenPGP key, within consent."""
    if state.finished(out, "referral"):
        return
    request = ReferralRequest(kind, key_file, out, with_names, with_media, attachments, armor, fmt)
    result = refer(state.vault(), case, request, state.operator)
    click.echo(f"referral of case {result.case_id[:8]} written to {result.path}")
    click.echo(f"  encrypted to {printable(result.recipient.uid)} ({result.recipient.fingerprint})")
    click.echo(f"  included: {', '.join(printable(i) for i in result.included)}")
    click.echo("  note: the account and free-text details go as written; names inside them are not removed")


# -- ws stats ---------------------------------------------------------------------------------------


def _day(ctx, param, value: str) -> str:
    try:
        return parse_day(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("stats")
@click.option("--from", "first", required=True, callback=_day, help="First day of the period (YYYY-MM-DD).")
@click.option("--to", "last", required=True, callback=_day, help="Last day of the period (YYYY-MM-DD), included.")
@click.option("--by", type=click.Choice(list(DIMENSIONS)), default="country", show_default=True)
@click.option("--period", type=click.Choice(PERIODS), default="month", show_default=True, help="With --by period: the unit.")
@click.option("--min-count", type=click.IntRange(min=1), default=5, show_default=True,
              help="Counts below this are shown as <N.")
@click.option("--purpose", type=click.Choice(PURPOSES), default="sg-report", show_default=True,
              help="sg-report counts only cases consenting to the Secretary-General's report.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path, dir_okay=False), help="Also write the table as CSV.")
@click.pass_obj
def stats_cmd(state: "WsContext", first: str, last: str, by: str, period: str, min_count: int, purpose: str,
              csv_path: Path | None) -> None:
    """Count the cases received in a period, within consent, small counts suppressed."""
    if first > last:
        raise click.BadParameter("--from is after --to", param_hint="--from")
    if csv_path is not None and state.finished(csv_path, "statistics CSV"):
        return
    _no_clobber(csv_path)
    vault = state.vault()
    stats = compute(case_facts(vault), StatsQuery(first, last, by, period, min_count, purpose))

    def log() -> None:
        audit.record(
            vault, state.operator, "statistics",
            detail={"from": first, "to": last, "by": by, "period": period, "min_count": min_count, "purpose": purpose,
                    "csv": str(csv_path) if csv_path else None, "total": stats.total},
        )

    if csv_path is None:
        log()
    else:  # named only once the audit log records it (outputs.py)
        write_recorded(vault, csv_path, "statistics CSV", lambda sink: write_csv(sink, CSV_HEADER, csv_rows(stats)), log)
    _print_stats(stats)
    if csv_path is not None:
        click.echo(f"CSV written to {csv_path}")


def _print_stats(stats) -> None:
    q = stats.query
    label = f"{q.by} ({q.period})" if q.by == "period" else q.by
    table = Table(title=f"cases received {q.first} to {q.last}, by {label} ({q.purpose})")
    table.add_column(q.by.replace("_", " "))
    table.add_column("cases", justify="right")
    for cell in stats.cells:
        table.add_row(Text(cell.value), cell.shown(q.min_count))
    table.add_section()
    table.add_row(Text("total received", style="bold"), str(stats.total))
    table.add_row(Text("unresolved cases carried forward"), str(stats.carried_forward))
    out = _console()
    out.print(table)
    out.print(Text(f"counts below {q.min_count} are shown as <{q.min_count}"))
    if any(cell.secondary for cell in stats.cells):
        out.print(Text(f"{HIDDEN}: withheld as well, so that the small count cannot be worked out from the total"))
    out.print(Text(f"left out for lack of consent: {stats.left_out} received in the period, "
                   f"{stats.left_out_carried} carried forward"))


# -- ws sg-list -------------------------------------------------------------------------------------


@click.command("sg-list")
@click.option("--year", type=click.IntRange(1945, 9999), help="Only cases received in this year.")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The CSV file to write.")
@click.pass_obj
def sg_list_cmd(state: "WsContext", year: int | None, out: Path) -> None:
    """Write the list of cases for the Secretary-General's annual report (CSV): only verified
    cases whose consent allows inclusion; names only where the person chose to be named."""
    if state.finished(out, "list"):
        return
    _no_clobber(out)
    vault = state.vault()
    entries, left_out = sg_list(case_facts(vault), year)

    def log() -> None:
        audit.record(
            vault, state.operator, "sg_list",
            detail={"year": year, "file": str(out), "listed": [e.case for e in entries],
                    "named": sum(1 for e in entries if e.names != "anonymised"), "left_out": len(left_out)},
        )

    write_recorded(vault, out, "Secretary-General's list", lambda sink: write_csv(sink, SG_HEADER, [e.row() for e in entries]), log)
    click.echo(f"{len(entries)} case(s) listed in {out}")
    if left_out:
        click.echo(f"{len(left_out)} case(s) left out:")
        for item in left_out:
            click.echo(f"  {item.case}: {item.reason}")


COMMANDS = (refer_cmd, stats_cmd, sg_list_cmd)


def register(group: click.Group) -> None:
    for command in COMMANDS:
        group.add_command(command)
