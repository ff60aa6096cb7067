"""The server's whole database: anonymous case indexes, ciphertext, and days.

No column holds an address, a user agent or a time finer than a day; a test checks it.
Ciphertext bodies of reports and follow-ups live here (at most ~1 MiB each) and are set
to NULL once the desk acknowledges them; attachment chunks live in the blob store.
Cases and replies carry an `expires_day` (server/retention.py); a withdrawal is kept apart
from any case, with nothing that names the case it withdrew.
"""

from datetime import date

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

HEX32 = String(32)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Case(Base):
    """A case, known only by case_id = BLAKE2b(lookup): the server cannot derive the lookup."""

    __tablename__ = "cases"

    case_id: Mapped[str] = mapped_column(HEX32, primary_key=True)
    created_day: Mapped[date] = mapped_column(Date)
    # The report envelope until the desk acknowledges it, then NULL.
    report_envelope: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Kept through this day, later only while something waits for a desk (retention.py).
    # Always set; nullable only because SQLite cannot add a NOT NULL column without
    # rebuilding a table other tables refer to (migration 0003 fills every row).
    expires_day: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)


class Followup(Base):
    __tablename__ = "followups"
    __table_args__ = (CheckConstraint("seq >= 1", name="seq_positive"),)

    case_id: Mapped[str] = mapped_column(HEX32, ForeignKey("cases.case_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_day: Mapped[date] = mapped_column(Date)
    envelope: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class Upload(Base):
    """An attachment's chunk upload. Filed (case_id set, and followup_seq for a follow-up)
    in the same transaction as the envelope naming it; acked once the desk imported it."""

    __tablename__ = "uploads"
    __table_args__ = (
        CheckConstraint("chunks >= 1", name="chunks_positive"),
        ForeignKeyConstraint(
            ["case_id", "followup_seq"],
            ["followups.case_id", "followups.seq"],
            name="fk_uploads_followup",
        ),
        Index("ix_uploads_case", "case_id", "followup_seq"),
        Index("ix_uploads_created_day", "created_day"),
        Index("ix_uploads_resume_index", "resume_index", unique=True),
    )

    upload_id: Mapped[str] = mapped_column(HEX32, primary_key=True)
    chunks: Mapped[int] = mapped_column(Integer)
    created_day: Mapped[date] = mapped_column(Date)
    case_id: Mapped[str | None] = mapped_column(HEX32, ForeignKey("cases.case_id"), nullable=True)
    followup_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    acked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Resumable uploads (docs/PROTOCOL.md, "Resumable attachments"): hex(BLAKE2b-16(resume)),
    # never `resume` itself, unique among unfiled uploads and cleared when filed; and the
    # stream's public 24-byte secretstream header, which the page restarts the stream from.
    resume_index: Mapped[str | None] = mapped_column(HEX32, nullable=True)
    stream_header: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class UploadChunk(Base):
    """Which chunks of an upload have arrived (the bytes are in the blob store)."""

    __tablename__ = "upload_chunks"

    upload_id: Mapped[str] = mapped_column(HEX32, ForeignKey("uploads.upload_id"), primary_key=True)
    index: Mapped[int] = mapped_column("chunk_index", Integer, primary_key=True, autoincrement=False)


class Reply(Base):
    """A desk's reply, sealed to the case's reply key; the server checked only its framing."""

    __tablename__ = "replies"
    __table_args__ = (CheckConstraint("seq >= 1", name="seq_positive"),)

    case_id: Mapped[str] = mapped_column(HEX32, ForeignKey("cases.case_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    created_day: Mapped[date] = mapped_column(Date)
    # Kept through this day (retention.py); always set, nullable as for cases.expires_day.
    expires_day: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)


class Withdrawal(Base):
    """A withdrawal's sealed follow-up envelope, waiting for a desk. The case it withdrew is
    deleted in the same transaction, and no column here names it: a random id and a day."""

    __tablename__ = "withdrawals"

    withdrawal_id: Mapped[str] = mapped_column(HEX32, primary_key=True)
    created_day: Mapped[date] = mapped_column(Date)
    envelope: Mapped[bytes] = mapped_column(LargeBinary)


# Partial indexes for the quota sums (server/quotas.py, migration 0004): each holds only the
# rows still waiting, so the sums read those and nothing that has been acknowledged
# (unfiled uploads are found by ix_uploads_case).
def _waiting_index(name: str, *columns, where) -> Index:
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


_waiting_index("ix_cases_waiting", Case.case_id, where=Case.report_envelope.is_not(None))
_waiting_index("ix_followups_waiting", Followup.case_id, Followup.seq, where=Followup.envelope.is_not(None))
_waiting_index("ix_uploads_unacked", Upload.chunks, where=Upload.acked.is_(False))


class OutboundBundle(Base):
    """Outbound bundles applied, kept to refuse replays and to confirm them to the desk."""

    __tablename__ = "outbound_bundles"

    bundle_id: Mapped[str] = mapped_column(HEX32, primary_key=True)
    desk_id: Mapped[str] = mapped_column(String(32), index=True)
    applied_day: Mapped[date] = mapped_column(Date)
