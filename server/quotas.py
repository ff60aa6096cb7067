"""Limits that keep a flood from filling the server (docs/API.md, "Limits and quotas").

- Per case: at most `followups_per_case_per_day` follow-ups filed to one case on one day,
  and at most `followups_pending_per_case` of its follow-ups waiting for a desk; beyond
  either, 429 `followup_limit`.
- Storage: the ciphertext waiting for a desk (report, follow-up and withdrawal envelopes
  not yet acknowledged, plus every upload not yet acknowledged at its declared chunk count,
  reserved when the upload is created) stays within `storage_quota_bytes`, and uploads not
  yet filed within `unfiled_upload_quota_bytes`; beyond either, 507 `storage_full`.

Every check runs inside the write transaction that then stores, so what it counted cannot
change before the commit, with any number of workers: SQLite's write lock is taken at BEGIN;
on PostgreSQL the case row is locked for follow-ups, and the storage check takes a
transaction-scoped advisory lock, so intake transactions check and store one after another
from that point to their commit (as on SQLite). The sums read only rows still waiting
(partial indexes, migration 0004), never chunk rows.
"""

from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from crypto.attachment import CHUNK_CIPHERTEXT

from .errors import ApiError
from .settings import Settings
from .storage.models import Case, Followup, Upload, Withdrawal


def followup_limit(message: str) -> ApiError:
    return ApiError(429, "followup_limit", message)


def storage_full() -> ApiError:
    return ApiError(507, "storage_full", "the server cannot take more data now; nothing was stored, try again later")


def check_followup_limits(session: Session, settings: Settings, case_id: str, day: date) -> None:
    """Refuse a new follow-up to `case_id` on `day` once the case has reached either limit."""
    today, pending = session.execute(
        select(
            func.coalesce(func.sum(case((Followup.created_day == day, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Followup.envelope.is_not(None), 1), else_=0)), 0),
        ).where(Followup.case_id == case_id)
    ).one()
    if today >= settings.followups_per_case_per_day:
        raise followup_limit(f"at most {settings.followups_per_case_per_day} follow-ups per case per day")
    if pending >= settings.followups_pending_per_case:
        raise followup_limit(f"at most {settings.followups_pending_per_case} follow-ups per case waiting for the desk")


def _sum(session: Session, expression, *where) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(expression), 0)).where(*where)))


def waiting_bytes(session: Session) -> int:
    """Ciphertext bytes waiting for a desk, uploads counted at their declared size."""
    envelopes = (
        _sum(session, func.length(Case.report_envelope), Case.report_envelope.is_not(None))
        + _sum(session, func.length(Followup.envelope), Followup.envelope.is_not(None))
        + _sum(session, func.length(Withdrawal.envelope))
    )
    return envelopes + _sum(session, Upload.chunks, Upload.acked.is_(False)) * CHUNK_CIPHERTEXT


def unfiled_bytes(session: Session) -> int:
    """Declared bytes of uploads not yet filed with a report or follow-up."""
    return _sum(session, Upload.chunks, Upload.case_id.is_(None)) * CHUNK_CIPHERTEXT


# The advisory lock key (any 64-bit number no other lock uses): "quietln" in ASCII.
STORAGE_LOCK = 0x71756965746C6E


def _hold_storage_lock(session: Session) -> None:
    """PostgreSQL: wait for, then hold until commit or rollback, the one lock every storage
    check takes, so two workers cannot both count the same free room. SQLite's write
    transaction already holds the whole database."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(STORAGE_LOCK)))


def check_storage(session: Session, settings: Settings, *, envelope_bytes: int = 0, upload_chunks: int = 0) -> None:
    """Refuse (507 storage_full) what would take either total past its quota."""
    _hold_storage_lock(session)
    upload_bytes = upload_chunks * CHUNK_CIPHERTEXT
    if waiting_bytes(session) + envelope_bytes + upload_bytes > settings.storage_quota_bytes:
        raise storage_full()
    if upload_bytes and unfiled_bytes(session) + upload_bytes > settings.unfiled_upload_quota_bytes:
        raise storage_full()
