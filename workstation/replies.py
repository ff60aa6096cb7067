"""Replies the desk writes to a case: numbered per case, signed by the desk, sealed to the
case's reply key, and kept pending until the server confirms it received them."""

from crypto.encoding import b64decode, b64encode
from crypto.reply import STATUSES, Reply, seal_reply

from .cases import REPLY, get_case
from .errors import WorkstationError
from .files import today
from .vault import Vault

PENDING, EXPORTED, CONFIRMED = "pending", "exported", "confirmed"


def write_reply(vault: Vault, case_id: str, status: str, text: str) -> dict:
    """Seal the next reply of `case_id` and store it for export. Returns its record."""
    if status not in STATUSES:
        raise WorkstationError(f"unknown status {status!r} (one of {', '.join(STATUSES)})", code="bad_status")
    if not text.strip():
        raise WorkstationError("a reply needs a message", code="empty_reply")
    case = get_case(vault, case_id)
    if case is None:
        raise WorkstationError(f"no case {case_id} in the vault", code="unknown_case")
    desk = vault.desk
    group = vault.case_group(case_id)
    with vault.transaction():
        seq = 1 + max((data["seq"] for _, data in vault.records(REPLY, group=group)), default=0)
        reply = Reply(case_id, seq, status, text, today(), desk.id)
        blob = seal_reply(reply, desk.public, desk.sign_secret, b64decode(case["reply_pk"], length=32))
        record = {**reply.body(), "blob": b64encode(blob), "state": PENDING, "bundles": []}
        del record["v"], record["kind"]
        vault.put(REPLY, vault.rid(REPLY, case_id, seq), record, group=group)
    return record
