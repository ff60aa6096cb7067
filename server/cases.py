"""Reports, follow-ups and lookups. The server checks envelope framing and recipients
(without any key), files named uploads in the same transaction, and knows a case only by
case_id = BLAKE2b(lookup)."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crypto.encoding import b64decode
from crypto.envelope import parse_header
from crypto.errors import ProtocolError
from crypto.kdf import case_id as case_id_of

from .context import AppContext
from .errors import ApiError
from .ids import is_hex32
from .quotas import check_followup_limits, check_storage
from .retention import case_expiry, extend_case
from .storage.models import Case, Followup, Reply, Upload, UploadChunk
from .uploads import unknown_upload, upload_in_use


def unknown_case() -> ApiError:
    return ApiError(404, "unknown_case", "no case matches this lookup")


def decode_lookup(text: str) -> bytes:
    try:
        return b64decode(text, field="lookup", length=32)
    except ProtocolError:
        raise ApiError(400, "bad_lookup", "lookup must be 32 bytes in standard base64") from None


def check_envelope(ctx: AppContext, text: str, kind: str) -> bytes:
    """Decode and check an envelope's framing: size, version, kind, recipients."""
    # Refuse by length before decoding: base64 of the largest envelope allowed.
    if len(text) > 4 * -(-ctx.settings.max_envelope_bytes // 3):
        raise ApiError(413, "too_large", "the envelope is larger than the limit")
    try:
        envelope = b64decode(text, field="envelope")
    except ProtocolError:
        raise ApiError(400, "bad_envelope", "envelope is not standard base64") from None
    if len(envelope) > ctx.settings.max_envelope_bytes:
        raise ApiError(413, "too_large", "the envelope is larger than the limit")
    try:
        header = parse_header(envelope, expect_kind=kind)
    except ProtocolError as exc:
        raise ApiError.from_protocol(exc) from None
    if len(set(header.recipients)) != len(header.recipients):
        raise ApiError(400, "bad_recipients", "an envelope names each recipient once")
    for key_id in header.recipients:
        try:
            ctx.manifest.desk_by_key_id(key_id)
        except ProtocolError:
            raise ApiError(400, "unknown_recipient", "the envelope is sealed to a key that is not a desk in the manifest") from None
    return envelope


def check_upload_list(ctx: AppContext, upload_ids: list[str]) -> list[str]:
    if len(upload_ids) > ctx.settings.max_uploads_per_envelope:
        raise ApiError(400, "too_many_uploads", f"at most {ctx.settings.max_uploads_per_envelope} uploads per envelope")
    if not all(is_hex32(u) for u in upload_ids):
        raise unknown_upload()
    if len(set(upload_ids)) != len(upload_ids):
        raise ApiError(409, "upload_in_use", "the same upload is named twice")
    return upload_ids


def _file_uploads(session: Session, upload_ids: list[str], case_id: str, seq: int | None) -> None:
    """Inside the filing transaction: every upload exists, is complete and unfiled; then file it."""
    for upload_id in upload_ids:
        upload = session.get(Upload, upload_id, with_for_update=True)
        if upload is None:
            raise unknown_upload()
        if upload.case_id is not None:
            raise upload_in_use()
        received = session.scalar(select(func.count()).where(UploadChunk.upload_id == upload_id))
        if received != upload.chunks:
            raise ApiError(400, "upload_incomplete", f"upload has {received} of {upload.chunks} chunks")
    session.flush()
    for upload_id in upload_ids:
        filed = session.execute(
            update(Upload)
            .where(Upload.upload_id == upload_id, Upload.case_id.is_(None))
            # Filed: no longer resumable, so a later follow-up with the same file makes a new upload.
            .values(case_id=case_id, followup_seq=seq, resume_index=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        if filed != 1:
            raise upload_in_use()


@dataclass(frozen=True)
class Filed:
    case_id: str
    day: date
    seq: int | None = None


def file_report(ctx: AppContext, lookup_b64: str, envelope_b64: str, upload_ids: list[str]) -> Filed:
    case_id = case_id_of(decode_lookup(lookup_b64))
    envelope = check_envelope(ctx, envelope_b64, "report")
    check_upload_list(ctx, upload_ids)
    day = ctx.today()
    try:
        with ctx.db.write() as session:
            if session.get(Case, case_id) is not None:
                raise ApiError(409, "case_exists", "a case with this key already exists")
            check_storage(session, ctx.settings, envelope_bytes=len(envelope))
            session.add(Case(case_id=case_id, created_day=day, report_envelope=envelope,
                             expires_day=case_expiry(ctx.settings, day)))
            session.flush()
            _file_uploads(session, upload_ids, case_id, None)
    except IntegrityError:
        raise ApiError(409, "case_exists", "a case with this key already exists") from None
    return Filed(case_id, day)


def file_followup(ctx: AppContext, lookup_b64: str, envelope_b64: str, upload_ids: list[str]) -> Filed:
    case_id = case_id_of(decode_lookup(lookup_b64))
    envelope = check_envelope(ctx, envelope_b64, "followup")
    check_upload_list(ctx, upload_ids)
    day = ctx.today()
    for _attempt in range(3):
        try:
            with ctx.db.write() as session:
                # Locks the case row (PostgreSQL; SQLite holds its write lock already), so
                # follow-ups to one case are numbered one after another.
                locked = session.scalar(select(Case.case_id).where(Case.case_id == case_id).with_for_update())
                if locked is None:
                    raise unknown_case()
                # The same envelope again (a retry whose answer was lost, or a replayed
                # proof of work): already filed, so nothing new.
                if session.scalar(select(Followup.seq).where(Followup.case_id == case_id, Followup.envelope == envelope)):
                    raise ApiError(409, "followup_exists", "this follow-up is already filed")
                check_followup_limits(session, ctx.settings, case_id, day)
                check_storage(session, ctx.settings, envelope_bytes=len(envelope))
                last = session.scalar(select(func.max(Followup.seq)).where(Followup.case_id == case_id))
                seq = (last or 0) + 1
                session.add(Followup(case_id=case_id, seq=seq, created_day=day, envelope=envelope))
                session.flush()
                _file_uploads(session, upload_ids, case_id, seq)
                extend_case(session, case_id, ctx.settings, day)
            return Filed(case_id, day, seq)
        except IntegrityError:
            continue  # another follow-up took this seq at the same moment (PostgreSQL): retry
    raise ApiError(409, "conflict", "too many concurrent follow-ups for this case, try again")


@dataclass(frozen=True)
class CaseView:
    found: bool
    case_id: str
    day: date
    replies: list[tuple[int, date, bytes]]
    followups: int


def lookup_case(ctx: AppContext, lookup_b64: str) -> CaseView:
    """Runs the same three queries whether or not the case exists, so that a known case
    takes no measurably longer to answer than an unknown one (tests/api/test_api_lookup.py)."""
    case_id = case_id_of(decode_lookup(lookup_b64))
    with ctx.db.read() as session:
        day = session.scalar(select(Case.created_day).where(Case.case_id == case_id))
        replies = session.execute(
            select(Reply.seq, Reply.created_day, Reply.blob).where(Reply.case_id == case_id).order_by(Reply.seq)
        ).all()
        followups = session.scalar(select(func.count()).where(Followup.case_id == case_id))
    if day is None:
        return CaseView(False, case_id, ctx.today(), [], 0)
    return CaseView(True, case_id, day, [tuple(r) for r in replies], followups)
