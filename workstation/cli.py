"""`quietline ws`: the focal point's commands on the air-gapped workstation."""

import getpass
import json
import os
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from crypto.desk import DeskKeys
from crypto.manifest import DESK_ID
from crypto.reply import STATUSES

from . import audit, casework_cli, files, outputs, workflow
from .cases import STORED, case_detail, extract_attachments, find_case
from .casework import STATES, VERIFICATION
from .casework import load as load_casework
from .consent import case_consent
from .errors import CommandGroup, WorkstationError, one_line, printable
from .exporter import export_bundle
from .exports_cli import COMMANDS as EXPORT_COMMANDS
from .importer import ALREADY, APPLIED, NEVER_SEEN, import_bundle
from .integrity import check_vault
from .keys_cli import REPO_ROOT, write_desk_public
from .replies import write_reply
from .vault import KDF_PROFILES, Vault

VAULT_ENV = "QUIETLINE_VAULT"
PASSPHRASE_ENV = "QUIETLINE_VAULT_PASSPHRASE"
OPERATOR_ENV = "QUIETLINE_OPERATOR"
DEFAULT_VAULT = "var/dev/vault"  # under the repository root, like the server's defaults


def read_passphrase(*, confirm: bool = False) -> str:
    """From $QUIETLINE_VAULT_PASSPHRASE, else asked for without echo."""
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase:
        return passphrase
    return click.prompt("Vault passphrase", hide_input=True, confirmation_prompt=confirm, err=True)


class WsContext:
    def __init__(self, vault_path: Path, operator: str):
        self.vault_path = vault_path
        self.operator = operator  # who the audit log names for what this command does
        self._vault: Vault | None = None
        self.recovered = outputs.Recovered([], [], [])

    def vault(self) -> Vault:
        if self._vault is None:
            self._vault = Vault.open(self.vault_path, read_passphrase())
            # Whatever a command killed part-way left (outputs.py): completed or removed.
            self.recovered = outputs.recover(self._vault)
            for path in self.recovered.finished:
                click.echo(f"note: finished writing {path}, which an interrupted command had recorded", err=True)
            for problem in self.recovered.stuck:
                click.echo(f"note: an interrupted export could not be settled: {printable(problem)}", err=True)
        return self._vault

    def finished(self, out: Path, what: str) -> bool:
        """True if opening the vault just completed this very output: the interrupted run
        had done and recorded it, so running the command again changes nothing more."""
        if not outputs.take_finished(self.vault(), out):
            return False
        click.echo(f"{what} {out} was written by an earlier run that was interrupted; it is complete and recorded")
        return True

    def close(self) -> None:
        if self._vault is not None:
            self._vault.close()


def _console() -> Console:
    # Soft wrap: long lines are the terminal's to wrap, so text piped to a file stays whole.
    return Console(highlight=False, soft_wrap=True)


def _text(value: object) -> Text:
    """Anything from a report, shown literally: no markup, no terminal control."""
    return Text(printable(value))


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--vault",
    "vault_path",
    type=click.Path(path_type=Path, file_okay=False),
    envvar=VAULT_ENV,
    default=REPO_ROOT / DEFAULT_VAULT,
    show_default=DEFAULT_VAULT,
    help=f"The vault directory (or ${VAULT_ENV}).",
)
@click.option(
    "--operator",
    envvar=OPERATOR_ENV,
    default=lambda: getpass.getuser(),
    show_default="your login name",
    help=f"Who is working, as the audit log records it (or ${OPERATOR_ENV}).",
)
@click.pass_context
def ws(ctx: click.Context, vault_path: Path, operator: str) -> None:
    """The air-gapped workstation: vault, import, cases, replies, export.

    The passphrase comes from $QUIETLINE_VAULT_PASSPHRASE or is asked for."""
    state = WsContext(vault_path, one_line(operator)[:64] or "unknown")
    ctx.obj = state
    ctx.call_on_close(state.close)


@ws.command()
@click.option("--desk-id", required=True, help="The desk's id in the manifest (a lowercase slug).")
@click.option("--name", required=True, help="The desk's name people see.")
@click.option(
    "--public-out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the desk's public keys for the manifest [default: <vault>/../<desk-id>.public.json].",
)
@click.option(
    "--kdf",
    type=click.Choice(sorted(KDF_PROFILES)),
    envvar="QUIETLINE_VAULT_KDF",
    default="moderate",
    show_default=True,
    help="Argon2id cost for the passphrase; 'interactive' only for tests and development.",
)
@click.pass_obj
def init(state: WsContext, desk_id: str, name: str, public_out: Path | None, kdf: str) -> None:
    """Create the vault and the desk's key pairs."""
    if not DESK_ID.fullmatch(desk_id):
        raise WorkstationError("a desk id is 1 to 32 lowercase letters, digits and dashes", code="bad_desk_id")
    public_out = public_out or state.vault_path.parent / f"{desk_id}.public.json"
    if public_out.exists():
        raise WorkstationError(f"{public_out} already exists; not overwriting it")
    passphrase = read_passphrase(confirm=True)
    desk = DeskKeys.generate(desk_id, name)
    Vault.create(state.vault_path, passphrase, desk, kdf=kdf).close()
    write_desk_public(desk, public_out)
    click.echo(f"vault created at {state.vault_path} for desk {desk_id} ({kdf} passphrase hashing)")
    click.echo(f"desk public keys for the manifest: {public_out}")


@ws.command("import")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.pass_obj
def import_cmd(state: WsContext, bundle: Path) -> None:
    """Verify an inbound bundle and import what it carries."""
    vault = state.vault()
    with vault.transaction():  # the import and its audit entry commit together
        result = import_bundle(vault, bundle)
        audit.record(vault, state.operator, "import", detail=_import_detail(result))
    note = " (imported before; nothing new expected)" if result.seen_before else ""
    click.echo(f"bundle {result.bundle_id} of {result.day}{note}")
    for kind, label in (("report", "reports"), ("followup", "follow-ups"), ("attachment", "attachments")):
        click.echo(f"  {label}: {result.new[kind]} new, {result.already[kind]} already in the vault")
    if result.confirmed_bundles:
        click.echo(f"  outbound bundles confirmed by the server: {result.confirmed_bundles}")
    _echo_withdrawals(result.withdrawals)
    for refusal in result.refused:
        click.echo(f"  REFUSED {refusal.item}: {refusal.code}: {printable(refusal.message)}")
    if result.refused:
        click.echo(f"  {plural(len(result.refused), 'item')} refused: not imported and not acknowledged, so the server keeps them.")


def _echo_withdrawals(withdrawals) -> None:
    if not withdrawals:
        return
    new = [w for w in withdrawals if w.outcome != ALREADY]
    click.echo(f"  withdrawals: {len(new)} new, {len(withdrawals) - len(new)} already in the vault")
    for w in new:
        if w.outcome == APPLIED:
            click.echo(f"  WITHDRAWN case {w.case_id[:8]}: every consent is now no; the server deleted the case and all it held")
        else:
            click.echo(f"  WITHDRAWN before the desk pulled it (withdrawal {w.withdrawal_id[:8]}): the server deleted the case, "
                       "so no case data exists here; recorded and acknowledged")


def _import_detail(result) -> dict:
    """What an import changed, in counts: never a case id or anything a report says."""
    outcomes = [w.outcome for w in result.withdrawals]
    return {
        "bundle_id": result.bundle_id,
        "seen_before": result.seen_before,
        "new": dict(result.new),
        "already": dict(result.already),
        "refused": len(result.refused),
        "confirmed_bundles": result.confirmed_bundles,
        "withdrawals": {state: outcomes.count(state) for state in (APPLIED, NEVER_SEEN, ALREADY)},
    }


@ws.command()
@click.option("--sort", type=click.Choice(workflow.SORTS), default="urgency", show_default=True,
              help="urgency (detained/missing, imminent threat, upcoming date; then age), age (oldest first), review (soonest first).")
@click.option("--state", "state_filter", type=click.Choice(STATES), help="Only cases in this workflow state.")
@click.option("--country", help="Only cases from this country (ISO code).")
@click.option("--open/--closed", "open_filter", default=None, help="Only open, or only closed, cases.")
@click.option("--overdue", is_flag=True, help="Only cases whose review or State reply is overdue.")
@click.option("--verification", type=click.Choice(VERIFICATION), help="Only cases with this verification status.")
@click.pass_obj
def cases(state: WsContext, sort: str, state_filter: str | None, country: str | None, open_filter: bool | None,
          overdue: bool, verification: str | None) -> None:
    """List the cases, most urgent first: state, urgency, age, verification, risk, reviews,
    the State's replies and withdrawn consent."""
    keep = workflow.CaseFilter(state_filter, country, open_filter, overdue, verification)
    rows = workflow.case_list(state.vault(), files.today(), sort=sort, keep=keep)
    if not rows:
        click.echo("no cases in the vault" if keep == workflow.CaseFilter() else "no cases match")
        return
    casework_cli.console(wide=True).print(casework_cli.cases_table(rows, plural(len(rows), "case")))


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else words or word + 's'}"


@ws.command()
@click.argument("case")
@click.option(
    "--extract",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write the case's attachments (decrypted) into this directory.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the case as one JSON object (report, consent, follow-ups, casework).")
@click.pass_obj
def show(state: WsContext, case: str, extract: Path | None, as_json: bool) -> None:
    """Show a case: report, consent, follow-ups, attachments, replies and casework. CASE is its
    id or a prefix (4+ hex)."""
    vault = state.vault()
    detail = case_detail(vault, find_case(vault, case))
    if as_json:
        click.echo(json.dumps(case_document(vault, detail), ensure_ascii=False, sort_keys=True, indent=1))
        return
    out = _console()
    _print_case(out, vault, detail)
    if extract is not None:
        written = extract_attachments(vault, detail, extract)
        out.print(Text(f"\n{plural(len(written), 'attachment')} written to {extract}", style="bold"))
        for attachment, path in written:
            out.print(_text(f"  {path}  ({_size(attachment['size'])})"))


def _heading(title: str) -> Text:
    return Text(f"\n{title}", style="bold")


def _print_case(out: Console, vault: Vault, detail) -> None:
    record = detail.case
    out.print(Text(f"case {record['case_id']}", style="bold"))
    out.print(_text(f"received {record['day']}, language {record['lang'] or '-'}, imported {record['imported']}"))
    out.print(_heading("report"))
    for line in casework_cli.report_lines(record["report"]):
        out.print(line)
    out.print(_heading("account"))
    out.print(_text(record["report"].get("text") or "(no text)"))
    out.print(_heading("consent"))
    for line in casework_cli.case_consent_lines(case_consent(vault, record)):
        out.print(line)
    _print_attachments(out, detail)
    _print_followups(out, detail)
    for r in detail.replies:
        notice = f", notice {r['notice']}" if r.get("notice") else ""
        out.print(_heading(f"reply {r['seq']} ({r['day']}), status {r['status']}{notice}, {r['state']}"))
        out.print(_text(r["text"] or "(no text)"))
    out.print(_heading("casework"))
    for line in casework_cli.casework_lines(load_casework(vault, record["case_id"]), files.today()):
        out.print(line)


def _print_attachments(out: Console, detail) -> None:
    if not detail.attachments:
        return
    out.print(_heading("attachments"))
    for a in detail.attachments:
        where = "report" if a["parent"] == "report" else f"follow-up {a['parent']}"
        state_text = "stored" if a["state"] == STORED else "awaited (not yet imported)"
        out.print(_text(f"  {a['name'] or '(unnamed)'}  {a['type'] or '?'}  {_size(a['size'])}  from {where}, {state_text}"))


def _print_followups(out: Console, detail) -> None:
    names = {a["upload_id"]: a for a in detail.attachments}
    for f in detail.followups:
        out.print(_heading(f"follow-up {f['seq']} ({f['day']})"))
        out.print(_text(f["text"] or "(no text)"))
        for line in casework_cli.followup_change_lines(f):
            out.print(line)
        for upload_id in f["attachments"]:
            out.print(_text(f"  attachment: {names[upload_id]['name'] if upload_id in names else upload_id}"))


def case_document(vault: Vault, detail) -> dict:
    """A case for machines (`ws show --json`): the report exactly as the submitter sent it,
    the consent as it stands after every follow-up, and the focal point's casework."""
    record = detail.case
    consent = case_consent(vault, record)
    return {
        "case_id": record["case_id"],
        "day": record["day"],
        "lang": record["lang"],
        "report": record["report"],
        "consent": {
            "reporter": consent.reporter.to_json(),
            "victim": consent.victim.to_json() if consent.victim is not None else None,
            "effective": consent.effective().to_json(),
            "withdrawn": consent.withdrawn,
        },
        "followups": [
            {
                "seq": f["seq"],
                "day": f["day"],
                "text": f["text"],
                "consent": f.get("consent"),
                "victim_consent": f.get("victim_consent"),
                "withdraw": bool(f.get("withdraw")),
                "server_deleted": bool(f.get("server_deleted")),
            }
            for f in detail.followups
        ],
        "attachments": [
            {"name": a["name"], "type": a["type"], "size": a["size"], "parent": a["parent"], "state": a["state"]}
            for a in detail.attachments
        ],
        "replies": [{"seq": r["seq"], "day": r["day"], "status": r["status"], "text": r["text"]} for r in detail.replies],
        "casework": load_casework(vault, record["case_id"]).model_dump(),
    }


@ws.command()
@click.argument("case")
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    help="The case's status as the submitter sees it [default: the one its workflow state maps to].",
)
@click.option("--message", required=True, help="The reply's text.")
@click.pass_obj
def reply(state: WsContext, case: str, status: str | None, message: str) -> None:
    """Write a signed, encrypted reply to a case (sent with the next export)."""
    vault = state.vault()
    case_id = find_case(vault, case)["case_id"]
    status = status or workflow.submitter_status(load_casework(vault, case_id))
    record = write_reply(vault, case_id, status, message, actor=state.operator)
    click.echo(f"reply {record['seq']} to case {record['case_id'][:8]} ({status}) stored; it leaves with the next export")


@ws.command()
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The bundle file to write.")
@click.pass_obj
def export(state: WsContext, out: Path) -> None:
    """Write an outbound bundle with every reply and acknowledgement the server has not confirmed."""
    vault = state.vault()
    if state.finished(out, "outbound bundle"):
        return
    result = export_bundle(vault, out, actor=state.operator)  # its record and audit entry commit together
    if result is None:
        click.echo("nothing to export: every reply and acknowledgement is confirmed by the server")
        return
    click.echo(
        f"bundle {result.bundle_id}: {plural(result.replies, 'reply', 'replies')}, "
        f"{plural(result.acks, 'acknowledgement')} -> {result.path}"
    )


@ws.command()
@click.pass_obj
def check(state: WsContext) -> None:
    """Check that the vault is whole: its database, every record, every attachment file to its
    last byte, the audit log's chain; and list what interrupted commands left behind."""
    result = check_vault(state.vault())
    for leftover in result.leftovers:
        click.echo(f"  left by an interrupted command (harmless; the next import or export clears it): {leftover}")
    if not result.whole:
        for problem in result.problems:
            click.echo(f"  DAMAGED: {printable(problem)}")
        raise WorkstationError(f"the vault is damaged: {plural(len(result.problems), 'problem')} (listed above)", code="vault_damaged")
    click.echo(f"the vault is whole: {plural(result.cases, 'case')}, {plural(result.attachments, 'attachment')}, "
               f"audit log of {plural(result.audit_entries, 'entry', 'entries')} intact")


for _command in EXPORT_COMMANDS:  # refer, stats, sg-list (exports_cli.py)
    ws.add_command(_command)


casework_cli.register(ws)
