"""What the server holds, by age: every row counted in the age bucket of its own day column
(`quietline server holdings`). Counts only; it reads no ciphertext and names no case."""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from crypto.attachment import CHUNK_CIPHERTEXT

from .storage.db import Database
from .storage.models import Case, Followup, Reply, Upload, UploadChunk, Withdrawal

# (label, oldest age in days it holds); ages are whole days before today.
BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("today", 0),
    ("1-7 days", 7),
    ("8-30 days", 30),
    ("31-90 days", 90),
    ("91-365 days", 365),
    ("older", None),
)
EXPIRING_WITHIN_DAYS = 30


def bucket_of(today: date, day: date) -> str:
    age = (today - day).days
    for label, oldest in BUCKETS:
        if oldest is None or age <= oldest:
            return label
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    by_age: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_age.values())


@dataclass(frozen=True)
class Holdings:
    today: date
    rows: list[Row]

    def to_json(self) -> dict:
        return {
            "day": self.today.isoformat(),
            "buckets": [label for label, _ in BUCKETS],
            "holdings": {row.key: {**row.by_age, "total": row.total} for row in self.rows},
        }


# (key, label, query): each query selects a day column, then a count (or chunk bytes).
def _queries(today: date):
    soon = today + timedelta(days=EXPIRING_WITHIN_DAYS)
    filed_chunks = (
        select(Upload.created_day, func.count() * CHUNK_CIPHERTEXT)
        .select_from(UploadChunk)
        .join(Upload, Upload.upload_id == UploadChunk.upload_id)
    )
    return [
        ("cases", "cases", select(Case.created_day, func.count())),
        ("reports_waiting", "reports waiting for a desk", select(Case.created_day, func.count()).where(Case.report_envelope.is_not(None))),
        ("followups_waiting", "follow-ups waiting for a desk", select(Followup.created_day, func.count()).where(Followup.envelope.is_not(None))),
        ("uploads_filed_waiting", "uploads filed, waiting for a desk",
         select(Upload.created_day, func.count()).where(Upload.case_id.is_not(None), Upload.acked.is_(False))),
        ("uploads_filed_imported", "uploads filed, imported (row only)",
         select(Upload.created_day, func.count()).where(Upload.case_id.is_not(None), Upload.acked.is_(True))),
        ("uploads_unfiled", "uploads not filed", select(Upload.created_day, func.count()).where(Upload.case_id.is_(None))),
        ("attachment_bytes", "attachment bytes (chunk ciphertext)", filed_chunks),
        ("replies", "replies", select(Reply.created_day, func.count())),
        ("withdrawals_waiting", "withdrawals waiting for a desk", select(Withdrawal.created_day, func.count())),
        ("cases_expiring_30_days", f"cases expiring within {EXPIRING_WITHIN_DAYS} days",
         select(Case.created_day, func.count()).where(Case.expires_day <= soon)),
    ]


def holdings(db: Database, today: date) -> Holdings:
    """Every figure from one read transaction, so the rows agree with each other."""
    rows = []
    with db.read() as session:
        for key, label, query in _queries(today):
            day_column = query.selected_columns[0]
            by_age = {label_: 0 for label_, _ in BUCKETS}
            for day, value in session.execute(query.group_by(day_column)):
                by_age[bucket_of(today, day)] += int(value)
            rows.append(Row(key, label, by_age))
    return Holdings(today, rows)
