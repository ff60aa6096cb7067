"""Attachment uploads: created empty, filled chunk by chunk (resumable, idempotent until
filed), then filed with a report or follow-up in the same transaction as its envelope."""

from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from crypto.attachment import CHUNK_CIPHERTEXT
from crypto.padding import is_chunk_count_bucket

from .context import AppContext
from .errors import ApiError
from .ids import is_hex32, new_id
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


def create_upload(ctx: AppContext, chunks: int) -> UploadState:
    if not is_chunk_count_bucket(chunks):
        raise ApiError(400, "bad_chunk_count", "the chunk count must be a bucket: 1, 2, 3, 4, 6, 8, 12, 16, 24 ...")
    if chunks > ctx.settings.max_chunks:
        raise ApiError(413, "too_large", f"an attachment may have at most {ctx.settings.max_chunks} chunks")
    upload_id = new_id()
    with ctx.db.write() as session:
        session.add(Upload(upload_id=upload_id, chunks=chunks, created_day=ctx.today(), acked=False))
    return UploadState(upload_id, chunks, [])


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
