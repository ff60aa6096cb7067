"""Withdrawal: the case is gone from the server at once, and the desk still learns of it.

In one transaction the case and every row that names it (replies, follow-ups, uploads and
their chunk rows) are deleted, and the withdrawal's sealed follow-up envelope is stored
under a fresh random id and today's day, with nothing that links it to the case. The desk
opens it (it names the case inside, signed with the case key) from its next inbound bundle
and acknowledges it, which deletes it here too.
"""

from datetime import date

from sqlalchemy import insert, select

from crypto.kdf import case_id as case_id_of

from .cases import check_envelope, decode_lookup, unknown_case
from .context import AppContext
from .ids import new_id
from .retention import delete_cases
from .storage.models import Case, Withdrawal


def withdraw_case(ctx: AppContext, lookup_b64: str, envelope_b64: str) -> date:
    """Delete the case `lookup` names and keep only its withdrawal envelope; returns the day."""
    case_id = case_id_of(decode_lookup(lookup_b64))
    envelope = check_envelope(ctx, envelope_b64, "followup")  # framing only: it is sealed to the desks
    day = ctx.today()
    with ctx.db.write() as session:
        # Locks the case row (PostgreSQL), so no follow-up or upload is filed with it meanwhile.
        if session.scalar(select(Case.case_id).where(Case.case_id == case_id).with_for_update()) is None:
            raise unknown_case()
        delete_cases(session, ctx.blobs, [case_id])
        session.execute(insert(Withdrawal).values(withdrawal_id=new_id(), created_day=day, envelope=envelope))
    ctx.db.forget_deleted()
    return day
