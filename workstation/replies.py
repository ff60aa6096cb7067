"""Replies the desk writes to a case: numbered per case, signed by the desk, sealed to the
case's reply key, and kept pending until the server confirms it received them. Every reply
is written to the audit log in the same transaction."""

from crypto.encoding import b64decode, b64encode
from crypto.reply import NOTICES, STATUSES, Reply, seal_reply

from . import audit, files
from .cases import REPLY, get_case
from .errors import WorkstationError
from .vault import Vault

PENDING, EXPORTED, CONFIRMED = "pending", "exported", "confirmed"
SYSTEM_ACTOR = "workstation"  # who the audit log names when a caller names nobody


def _check(status: str, text: str, notice: str | None) -> None:
    if status not in STATUSES:
        raise WorkstationError(f"unknown status {status!r} (one of {', '.join(STATUSES)})", code="bad_status")
    if notice is not None and notice not in NOTICES:
        raise WorkstationError(f"unknown notice {notice!r} (one of {', '.join(NOTICES)})", code="bad_notice")
    # A still-open notice speaks through the client's own words, so its text may be empty.
    if notice is None and not text.strip():
        raise WorkstationError("a reply needs a message", code="empty_reply")


def write_reply(
    vault: Vault, case_id: str, status: str, text: str, *, actor: str = SYSTEM_ACTOR, notice: str | None = None
) -> dict:
    """Seal the next reply of `case_id` and store it for export. Returns its record."""
    _check(status, text, notice)
    case = get_case(vault, case_id)
    if case is None:
        raise WorkstationError(f"no case {case_id} in the vault", code="unknown_case")
    desk = vault.desk
    group = vault.case_group(case_id)
    with vault.transaction():
        seq = 1 + max((data["seq"] for _, data in vault.records(REPLY, group=group)), default=0)
        reply = Reply(case_id, seq, status, text, files.today(), desk.id, notice)
        blob = seal_reply(reply, desk.public, desk.sign_secret, b64decode(case["reply_pk"], length=32))
        record = {**reply.body(), "blob": b64encode(blob), "state": PENDING, "bundles": []}
        del record["v"], record["kind"]
        vault.put(REPLY, vault.rid(REPLY, case_id, seq), record, group=group)
        detail = {"seq": seq, "status": status, "chars": len(text)}  # never the text itself
        audit.record(vault, actor, "notice" if notice else "reply", case_id=case_id, detail={**detail, **({"notice": notice} if notice else {})})
    return record


def last_reply_day(vault: Vault, case_id: str) -> str | None:
    """The day of the case's latest reply (notices included), None before any."""
    days = [data["day"] for _, data in vault.records(REPLY, group=vault.case_group(case_id))]
    return max(days, default=None)
