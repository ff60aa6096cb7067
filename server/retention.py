"""Deleting what the server no longer needs.

- Uploads never filed with a report or follow-up are purged once older than a day.
- Chunk files left behind (an acknowledged or purged upload whose files could not be
  removed at the time, e.g. after a crash) are swept.
Both run at the start of every inbound pull and are callable on their own.
"""

from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .storage.blobs import BlobStore
from .storage.db import after_commit
from .storage.models import Upload, UploadChunk


def purge_orphan_uploads(session: Session, blobs: BlobStore, today: date, days: int = 1) -> list[str]:
    """Delete uploads still unfiled and created more than `days` whole days before `today`
    (an upload made on day D survives at least until D + days + 1). The chunk files go once
    the caller's transaction commits. Returns the purged upload ids."""
    cutoff = today - timedelta(days=days)
    orphan = (Upload.case_id.is_(None), Upload.created_day < cutoff)
    upload_ids = list(session.scalars(select(Upload.upload_id).where(*orphan).with_for_update()))
    if not upload_ids:
        return []
    for start in range(0, len(upload_ids), 500):
        batch = upload_ids[start : start + 500]
        session.execute(delete(UploadChunk).where(UploadChunk.upload_id.in_(batch)))
        session.execute(
            delete(Upload).where(Upload.upload_id.in_(batch), *orphan).execution_options(synchronize_session=False)
        )

    def remove_files() -> None:
        for upload_id in upload_ids:
            blobs.delete_upload(upload_id)

    after_commit(session, remove_files)
    return upload_ids


def sweep_stray_blobs(session: Session, blobs: BlobStore) -> list[str]:
    """Delete the chunk files of uploads that are acknowledged or no longer exist."""
    stored = blobs.upload_ids()
    if not stored:
        return []
    live: set[str] = set()
    for start in range(0, len(stored), 500):
        batch = stored[start : start + 500]
        live.update(session.scalars(select(Upload.upload_id).where(Upload.upload_id.in_(batch), Upload.acked.is_(False))))
    stray = [upload_id for upload_id in stored if upload_id not in live]
    for upload_id in stray:
        blobs.delete_upload(upload_id)
    return stray
