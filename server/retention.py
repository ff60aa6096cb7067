"""Deleting what the server no longer needs, one function per rule (docs/API.md, "Retention"):

- replies past their `expires_day`;
- cases past their `expires_day` that hold nothing waiting for a desk (report and every
  follow-up acknowledged, no unacknowledged upload), with all their rows and chunk files;
  anything still waiting for a desk never expires;
- uploads never filed with a report or follow-up, once older than a day;
- chunk files left behind (an acknowledged or purged upload whose files could not be
  removed at the time, e.g. after a crash).

`purge` runs them all: at every inbound pull, at server start, once a day while the server
runs (retention_task.py) and on demand (`quietline server purge`). A row is kept through
its `expires_day` and deleted from the day after.

Expiry days carry a random spread: a new case expires case_retention_days after its day
plus r, r uniform in 0..retention_spread_days from `secrets`, and every follow-up or reply
pushes that to at least today + case_retention_days + a new r. The spread exists so that
an expiry day does not reveal the day of the activity that set it.
"""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, delete, exists, not_, or_, select, update
from sqlalchemy.orm import Session

from .settings import Settings
from .storage.blobs import BlobStore
from .storage.db import Database, after_commit
from .storage.models import Case, Followup, Reply, Upload, UploadChunk

_BATCH = 500


def spread_expiry(today: date, days: int, spread: int) -> date:
    """today + days + r, r uniform in 0..spread. Random (not derived from the case), so an
    expiry day does not reveal the day of the activity behind it."""
    return today + timedelta(days=days + secrets.randbelow(spread + 1))


def case_expiry(settings: Settings, today: date) -> date:
    return spread_expiry(today, settings.case_retention_days, settings.retention_spread_days)


def reply_expiry(settings: Settings, today: date) -> date:
    return spread_expiry(today, settings.reply_retention_days, settings.retention_spread_days)


def extend_case(session: Session, case_id: str, settings: Settings, today: date) -> None:
    """Inside a filing transaction: a follow-up or a stored reply pushes the case's expiry
    to at least today + case_retention_days + a fresh spread."""
    new = case_expiry(settings, today)
    session.execute(
        update(Case)
        .where(Case.case_id == case_id, or_(Case.expires_day.is_(None), Case.expires_day < new))
        .values(expires_day=new)
        .execution_options(synchronize_session=False)
    )


def _batches(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _BATCH):
        yield items[start : start + _BATCH]


def delete_cases(session: Session, blobs: BlobStore, case_ids: list[str]) -> None:
    """Delete cases with every row that names them (uploads and their chunk rows, replies,
    follow-ups); the chunk files go once the caller's transaction commits."""
    upload_ids: list[str] = []
    for batch in _batches(case_ids):
        upload_ids += session.scalars(select(Upload.upload_id).where(Upload.case_id.in_(batch))).all()
    for batch in _batches(upload_ids):
        session.execute(delete(UploadChunk).where(UploadChunk.upload_id.in_(batch)))
    for batch in _batches(case_ids):
        for model in (Upload, Reply, Followup, Case):  # uploads name follow-ups; all name cases
            session.execute(delete(model).where(model.case_id.in_(batch)).execution_options(synchronize_session=False))

    def remove_files() -> None:
        for upload_id in upload_ids:
            blobs.delete_upload(upload_id)

    if upload_ids:
        after_commit(session, remove_files)


def purge_expired_replies(session: Session, today: date) -> int:
    """Delete replies past their expiry day; returns how many."""
    return session.execute(
        delete(Reply).where(Reply.expires_day < today).execution_options(synchronize_session=False)
    ).rowcount


def _waiting_for_a_desk():
    """A case holds something no desk has acknowledged yet."""
    return or_(
        Case.report_envelope.is_not(None),
        exists().where(Followup.case_id == Case.case_id, Followup.envelope.is_not(None)),
        exists().where(Upload.case_id == Case.case_id, Upload.acked.is_(False)),
    )


def purge_expired_cases(session: Session, blobs: BlobStore, today: date) -> list[str]:
    """Delete cases past their expiry day that hold nothing waiting for a desk, with all
    their rows; their chunk files go after the commit. Returns the purged case ids."""
    expired = and_(Case.expires_day < today, not_(_waiting_for_a_desk()))
    # FOR UPDATE (PostgreSQL): a follow-up filed meanwhile waits for the case row, then
    # finds no case; SQLite's write transaction holds the whole database already.
    case_ids = list(session.scalars(select(Case.case_id).where(expired).with_for_update(of=Case)))
    if case_ids:
        delete_cases(session, blobs, case_ids)
    return case_ids


def purge_orphan_uploads(session: Session, blobs: BlobStore, today: date, days: int = 1) -> list[str]:
    """Delete uploads still unfiled and created more than `days` whole days before `today`
    (an upload made on day D survives at least until D + days + 1). The chunk files go once
    the caller's transaction commits. Returns the purged upload ids."""
    cutoff = today - timedelta(days=days)
    orphan = (Upload.case_id.is_(None), Upload.created_day < cutoff)
    upload_ids = list(session.scalars(select(Upload.upload_id).where(*orphan).with_for_update()))
    if not upload_ids:
        return []
    for batch in _batches(upload_ids):
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
    for batch in _batches(stored):
        live.update(session.scalars(select(Upload.upload_id).where(Upload.upload_id.in_(batch), Upload.acked.is_(False))))
    stray = [upload_id for upload_id in stored if upload_id not in live]
    for upload_id in stray:
        blobs.delete_upload(upload_id)
    return stray


STALE_TEMPORARY_SECONDS = 3600.0


@dataclass(frozen=True)
class Purged:
    replies: int
    cases: int
    orphan_uploads: int
    stray_uploads: int
    temporary_files: int = 0


def purge(db: Database, blobs: BlobStore, settings: Settings, today: date) -> Purged:
    """Every rule above: the rows in one transaction, files after it commits, then the
    sweep of stray files."""
    with db.write() as session:
        replies = purge_expired_replies(session, today)
        cases = purge_expired_cases(session, blobs, today)
        orphans = purge_orphan_uploads(session, blobs, today, settings.orphan_upload_days)
    if replies or cases or orphans:
        db.forget_deleted()
    with db.read() as session:
        stray = sweep_stray_blobs(session, blobs)
    # Chunks a killed server left staged (half-written, or never committed; none is ever
    # read): removed once they are older than any chunk write takes.
    temporary = blobs.remove_stale_temporary(STALE_TEMPORARY_SECONDS)
    return Purged(replies, len(cases), len(orphans), len(stray), temporary)
