"""Outbound bundles (desk -> server): acknowledgements that delete what the desk imported,
and replies for submitters. Authenticated against the manifest, checked whole before
anything is applied, then applied in one transaction.

A case can vanish while a desk works offline (withdrawn, or expired): an acknowledgement of
something the server no longer holds is a no-op, and a reply to a case it no longer holds
is dropped (`replies_dropped`), so the desk's queue never jams on a case that is gone."""

from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from crypto.bundle import OUTBOUND, read_bundle
from crypto.errors import ProtocolError
from crypto.padding import MAX_MESSAGE
from crypto.reply import SEAL_OVERHEAD, check_framing

from .context import AppContext
from .errors import ApiError
from .ids import is_hex32
from .storage.db import after_commit
from .retention import extend_case, reply_expiry
from .storage.models import Case, Followup, OutboundBundle, Reply, Upload, UploadChunk, Withdrawal
from .uploads import unknown_upload

MAX_REPLY_BYTES = 13 + SEAL_OVERHEAD + MAX_MESSAGE


@dataclass(frozen=True)
class Applied:
    bundle_id: str
    replies_stored: int
    acks_applied: int
    replies_dropped: int = 0


@dataclass(frozen=True)
class _Ack:
    type: str
    case_id: str | None = None
    seq: int | None = None
    upload_id: str | None = None
    withdrawal_id: str | None = None


@dataclass(frozen=True)
class _ReplyRef:
    case_id: str
    seq: int
    blob: int


def _bad(message: str) -> ApiError:
    return ApiError(400, "bad_bundle", message)


def _is_seq(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _parse_acks(raw: object) -> list[_Ack]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _bad("acks must be a list")
    acks = []
    for ack in raw:
        if not isinstance(ack, dict):
            raise _bad("each ack is an object")
        kind = ack.get("type")
        if kind == "report" and is_hex32(ack.get("case_id")):
            acks.append(_Ack("report", case_id=ack["case_id"]))
        elif kind == "followup" and is_hex32(ack.get("case_id")) and _is_seq(ack.get("seq")):
            acks.append(_Ack("followup", case_id=ack["case_id"], seq=ack["seq"]))
        elif kind == "attachment" and is_hex32(ack.get("upload_id")):
            acks.append(_Ack("attachment", upload_id=ack["upload_id"]))
        elif kind == "withdrawal" and is_hex32(ack.get("withdrawal_id")):
            acks.append(_Ack("withdrawal", withdrawal_id=ack["withdrawal_id"]))
        else:
            raise _bad("an ack is malformed")
    return acks


def _parse_replies(raw: object, blob_count: int) -> list[_ReplyRef]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _bad("replies must be a list")
    replies = []
    for reply in raw:
        if not (
            isinstance(reply, dict)
            and is_hex32(reply.get("case_id"))
            and _is_seq(reply.get("seq"))
            and isinstance(reply.get("blob"), int)
            and not isinstance(reply.get("blob"), bool)
            and 0 <= reply["blob"] < blob_count
        ):
            raise _bad("a reply entry is malformed")
        replies.append(_ReplyRef(reply["case_id"], reply["seq"], reply["blob"]))
    return replies


def apply_outbound(ctx: AppContext, desk_id: str, spool: BinaryIO) -> Applied:
    """`spool` holds the whole bundle as received; `desk_id` is the token's desk."""
    try:
        bundle = read_bundle(spool, OUTBOUND, ctx.manifest)
    except ProtocolError as exc:
        raise ApiError.from_protocol(exc) from None
    signer = bundle.signer
    if signer is None or signer.id != desk_id:
        raise ApiError(403, "wrong_desk", "the bundle is signed by another desk than the token's")
    bundle_id = bundle.header["bundle_id"]
    acks = _parse_acks(bundle.header.get("acks"))
    replies = _parse_replies(bundle.header.get("replies"), len(bundle.blob_sizes))

    def reply_blob(ref: _ReplyRef) -> bytes:
        if bundle.blob_sizes[ref.blob] > MAX_REPLY_BYTES:
            raise ApiError(400, "bad_reply", "a reply is larger than any reply can be")
        try:
            blob = bundle.read_blob(spool, ref.blob)
            key_id = check_framing(blob)
        except ProtocolError as exc:
            raise ApiError.from_protocol(exc) from None
        if key_id != signer.key_id:
            raise ApiError(400, "bad_reply", "a reply names another desk key than the bundle's signer")
        return blob

    # Every reply is checked before the transaction opens (one blob in memory at a time).
    for ref in replies:
        reply_blob(ref)

    today = ctx.today()
    acked_uploads: list[str] = []
    with ctx.db.write() as session:
        if session.get(OutboundBundle, bundle_id) is not None:
            raise ApiError(409, "bundle_replayed", "this bundle has already been applied")
        try:
            # Inserted first: a concurrent copy of the same bundle waits here, then fails.
            session.execute(insert(OutboundBundle).values(bundle_id=bundle_id, desk_id=desk_id, applied_day=today))
        except IntegrityError:
            raise ApiError(409, "bundle_replayed", "this bundle has already been applied") from None

        # What no longer exists (withdrawn, expired, acknowledged before) needs no deleting.
        for ack in acks:
            if ack.type == "report":
                session.execute(
                    update(Case).where(Case.case_id == ack.case_id).values(report_envelope=None)
                    .execution_options(synchronize_session=False)
                )
            elif ack.type == "followup":
                session.execute(
                    update(Followup)
                    .where(Followup.case_id == ack.case_id, Followup.seq == ack.seq)
                    .values(envelope=None)
                    .execution_options(synchronize_session=False)
                )
            elif ack.type == "withdrawal":
                session.execute(delete(Withdrawal).where(Withdrawal.withdrawal_id == ack.withdrawal_id))
            else:
                done = session.execute(
                    update(Upload)
                    .where(Upload.upload_id == ack.upload_id, Upload.case_id.is_not(None))
                    .values(acked=True)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if done != 1 and session.get(Upload, ack.upload_id) is not None:
                    raise unknown_upload()  # an upload no report or follow-up has filed
                session.execute(delete(UploadChunk).where(UploadChunk.upload_id == ack.upload_id))
                acked_uploads.append(ack.upload_id)

        dropped = 0
        for ref in replies:
            blob = reply_blob(ref)
            if session.scalar(select(Case.case_id).where(Case.case_id == ref.case_id).with_for_update()) is None:
                dropped += 1  # withdrawn or expired: nobody can read it any more
                continue
            existing = session.scalar(select(Reply.blob).where(Reply.case_id == ref.case_id, Reply.seq == ref.seq))
            if existing is None:
                try:
                    session.execute(insert(Reply).values(case_id=ref.case_id, seq=ref.seq, blob=blob, created_day=today,
                                                         expires_day=reply_expiry(ctx.settings, today)))
                except IntegrityError:  # stored at the same moment by a concurrent bundle
                    raise ApiError(409, "reply_conflict", "this reply was stored concurrently; resend") from None
                extend_case(session, ref.case_id, ctx.settings, today)
            elif existing != blob:
                raise ApiError(409, "reply_conflict", "a different reply with this case and sequence number is stored")

        def remove_files() -> None:
            for upload_id in acked_uploads:
                ctx.blobs.delete_upload(upload_id)

        after_commit(session, remove_files)
    if acks:
        ctx.db.forget_deleted()
    return Applied(bundle_id, len(replies) - dropped, len(acks), dropped)
