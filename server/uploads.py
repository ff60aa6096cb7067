"""Attachment uploads: created empty, filled chunk by chunk (resumable, idempotent until
filed), then filed with a report or follow-up in the same transaction as its envelope."""

from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from crypto.attachment import CHUNK_CIPHERTEXT, HEADER_BYTES
from crypto.encoding import b64decode, b64encode
from crypto.errors import ProtocolError
from crypto.padding import is_chunk_count_bucket
from crypto.upload import RESUME_BYTES, resume_index

from .context import AppContext
from .errors import ApiError
from .ids import is_hex32, new_id
from .quotas import check_storage
from .storage.models import Upload, UploadChunk


def unknown_upload() -> ApiError:
    return ApiError(404, "unknown_upload", "no such upload")


def upload_in_use() -> ApiError:
    return ApiError(409, "upload_in_use", "this upload is already filed with a report or follow-up")


@dataclass(frozen=True)
class UploadState:
    upload_id: str
    chunks: int
    received: list[int]


def bad_resume(message: str) -> ApiError:
    return ApiError(400, "bad_resume", message)


def upload_exists() -> ApiError:
    return ApiError(409, "upload_exists", "an unfiled upload already has this resume handle")


def _decode(text: str, length: int, what: str) -> bytes:
    try:
        return b64decode(text, field=what, length=length)
    except ProtocolError:
        raise bad_resume(f"{what} must be {length} bytes in standard base64") from None


def decode_resume(text: str) -> str:
    """The resume index of a `resume` handle: the only form the server keeps or looks up."""
    return resume_index(_decode(text, RESUME_BYTES, "resume"))


def create_upload(ctx: AppContext, chunks: int, resume: str | None = None, header: str | None = None,
                  *, upload_id: str | None = None) -> UploadState:
    """A new upload; with `resume` and `header` (both or neither) a resumable one, found
    again by POST /uploads/resume until it is filed (docs/PROTOCOL.md, "Resumable attachments").
    `upload_id` is the id its proof of work names (random if none): one proof, one upload."""
    if not is_chunk_count_bucket(chunks):
        raise ApiError(400, "bad_chunk_count", "the chunk count must be a bucket: 1, 2, 3, 4, 6, 8, 12, 16, 24 ...")
    if chunks > ctx.settings.max_chunks:
        raise ApiError(413, "too_large", f"an attachment may have at most {ctx.settings.max_chunks} chunks")
    if (resume is None) != (header is None):
        raise bad_resume("resume and header come together")
    index = stream_header = None
    if resume is not None:
        index = decode_resume(resume)
        stream_header = _decode(header, HEADER_BYTES, "header")
    upload_id = upload_id or new_id()
    try:
        with ctx.db.write() as session:
            if index is not None and session.scalar(select(Upload.upload_id).where(Upload.resume_index == index)):
                raise upload_exists()
            if session.get(Upload, upload_id) is not None:
                raise ApiError(400, "pow_invalid", "this proof of work has already paid for an upload")
            # Reserved now at its declared size, so chunks sent later never overrun a quota.
            check_storage(session, ctx.settings, upload_chunks=chunks)
            session.add(Upload(upload_id=upload_id, chunks=chunks, created_day=ctx.today(), acked=False,
                               resume_index=index, stream_header=stream_header))
    except IntegrityError:
        raise upload_exists() from None  # the same handle created twice at once: the unique index decides
    return UploadState(upload_id, chunks, [])


@dataclass(frozen=True)
class ResumeState:
    upload_id: str
    chunks: int
    received: list[int]
    header: str


def find_resumable(ctx: AppContext, resume: str) -> ResumeState:
    """The unfiled upload with this `resume` handle: its id, count, chunks held and header."""
    index = decode_resume(resume)
    with ctx.db.read() as session:
        upload = session.scalar(
            select(Upload).where(Upload.resume_index == index, Upload.case_id.is_(None))
        )
        if upload is None or upload.stream_header is None:
            raise unknown_upload()
        received = session.scalars(
            select(UploadChunk.index).where(UploadChunk.upload_id == upload.upload_id).order_by(UploadChunk.index)
        ).all()
        return ResumeState(upload.upload_id, upload.chunks, list(received), b64encode(bytes(upload.stream_header)))


def upload_state(ctx: AppContext, upload_id: str) -> UploadState:
    if not is_hex32(upload_id):
        raise unknown_upload()
    with ctx.db.read() as session:
        upload = session.get(Upload, upload_id)
        if upload is None:
            raise unknown_upload()
        received = session.scalars(
            select(UploadChunk.index).where(UploadChunk.upload_id == upload_id).order_by(UploadChunk.index)
        ).all()
    return UploadState(upload_id, upload.chunks, list(received))


def check_chunk_target(ctx: AppContext, upload_id: str, index: int) -> None:
    """Refuse early, before the body is read: unknown upload, filed upload, bad index."""
    if not is_hex32(upload_id):
        raise unknown_upload()
    with ctx.db.read() as session:
        upload = session.get(Upload, upload_id)
    if upload is None:
        raise unknown_upload()
    if upload.case_id is not None:
        raise upload_in_use()
    if not 0 <= index < upload.chunks:
        raise ApiError(400, "bad_chunk_index", f"chunk index must be 0 to {upload.chunks - 1}")


def check_chunk_size(size: int) -> None:
    if size != CHUNK_CIPHERTEXT:
        raise ApiError(400, "bad_chunk_size", f"a chunk is exactly {CHUNK_CIPHERTEXT} bytes")


def store_chunk(ctx: AppContext, upload_id: str, index: int, data: bytes) -> None:
    """Write the chunk (flushed to disk first), then, holding the upload row, make it
    visible and record it. Filing takes the same row, so a filed upload never changes."""
    check_chunk_target(ctx, upload_id, index)
    check_chunk_size(len(data))
    staged = ctx.blobs.stage_chunk(upload_id, index, data)
    try:
        with ctx.db.write() as session:
            # Locks the row (PostgreSQL) / takes the write lock (SQLite) and re-checks
            # that the upload is still unfiled.
            locked = session.execute(
                update(Upload)
                .where(Upload.upload_id == upload_id, Upload.case_id.is_(None))
                .values(chunks=Upload.chunks)
            ).rowcount
            if locked != 1:
                raise upload_in_use() if session.get(Upload, upload_id) else unknown_upload()
            staged.commit()
            staged = None
            exists = session.scalar(
                select(func.count()).where(UploadChunk.upload_id == upload_id, UploadChunk.index == index)
            )
            if not exists:
                session.execute(insert(UploadChunk).values(upload_id=upload_id, index=index))
    except IntegrityError:
        pass  # the same index arrived twice at once: either copy is the chunk
    finally:
        if staged is not None:
            staged.discard()
