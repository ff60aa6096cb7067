"""Inbound bundles (server -> desk): every ciphertext not yet acknowledged, plus the ids of
outbound bundles already applied. Written to a temporary file one envelope or one chunk at
a time, so memory stays flat however large the attachments."""

from collections.abc import Iterator
from typing import BinaryIO

from sqlalchemy import func, select

from crypto.attachment import CHUNK_CIPHERTEXT
from crypto.bundle import INBOUND, write_bundle

from .context import AppContext
from .errors import ApiError
from .ids import new_id
from .storage.blobs import ChunkMissing
from .storage.models import Case, Followup, OutboundBundle, Upload, Withdrawal


class _Changed(Exception):
    """Something was acknowledged while the bundle was being written: start again."""


def _envelope(ctx: AppContext, column, where, size: int) -> Iterator[bytes]:
    with ctx.db.read() as session:
        data = session.scalar(select(column).where(*where))
    if data is None or len(data) != size:
        raise _Changed
    yield data


def _attachment(ctx: AppContext, upload_id: str, chunks: int) -> Iterator[bytes]:
    try:
        for data in ctx.blobs.read_chunks(upload_id, chunks):
            if len(data) != CHUNK_CIPHERTEXT:
                raise RuntimeError("a stored chunk has the wrong size")
            yield data
    except ChunkMissing:
        raise _Changed from None


def _write(ctx: AppContext, desk_id: str, out: BinaryIO) -> str:
    with ctx.db.read() as session:
        reports = session.execute(
            select(Case.case_id, func.length(Case.report_envelope))
            .where(Case.report_envelope.is_not(None))
            .order_by(Case.created_day, Case.case_id)
        ).all()
        followups = session.execute(
            select(Followup.case_id, Followup.seq, func.length(Followup.envelope))
            .where(Followup.envelope.is_not(None))
            .order_by(Followup.created_day, Followup.case_id, Followup.seq)
        ).all()
        filed = session.execute(
            select(Upload.upload_id, Upload.case_id, Upload.followup_seq, Upload.chunks, Upload.acked)
            .where(Upload.case_id.is_not(None))
            .order_by(Upload.case_id, Upload.followup_seq, Upload.upload_id)
        ).all()
        # In the same read as the reports: a case withdrawn meanwhile is either still
        # whole here or already gone with its withdrawal listed, never half of each.
        withdrawals = session.execute(
            select(Withdrawal.withdrawal_id, func.length(Withdrawal.envelope))
            .order_by(Withdrawal.created_day, Withdrawal.withdrawal_id)
        ).all()
        confirmed = list(
            session.scalars(
                select(OutboundBundle.bundle_id)
                .where(OutboundBundle.desk_id == desk_id)
                .order_by(OutboundBundle.applied_day, OutboundBundle.bundle_id)
            )
        )

    named: dict[tuple[str, int | None], list[str]] = {}
    for upload in filed:
        named.setdefault((upload.case_id, upload.followup_seq), []).append(upload.upload_id)

    items: list[dict] = []
    blobs: list[tuple[int, Iterator[bytes]]] = []
    for case_id, size in reports:
        items.append({"type": "report", "case_id": case_id, "blob": len(blobs), "uploads": named.get((case_id, None), [])})
        blobs.append((size, _envelope(ctx, Case.report_envelope, (Case.case_id == case_id,), size)))
    for case_id, seq, size in followups:
        items.append(
            {"type": "followup", "case_id": case_id, "seq": seq, "blob": len(blobs), "uploads": named.get((case_id, seq), [])}
        )
        where = (Followup.case_id == case_id, Followup.seq == seq)
        blobs.append((size, _envelope(ctx, Followup.envelope, where, size)))
    for upload in filed:
        if upload.acked:
            continue
        items.append(
            {"type": "attachment", "case_id": upload.case_id, "upload_id": upload.upload_id, "chunks": upload.chunks, "blob": len(blobs)}
        )
        blobs.append((upload.chunks * CHUNK_CIPHERTEXT, _attachment(ctx, upload.upload_id, upload.chunks)))
    for withdrawal_id, size in withdrawals:
        items.append({"type": "withdrawal", "withdrawal_id": withdrawal_id, "blob": len(blobs)})
        blobs.append((size, _envelope(ctx, Withdrawal.envelope, (Withdrawal.withdrawal_id == withdrawal_id,), size)))

    bundle_id = new_id()
    header = {"v": 1, "bundle_id": bundle_id, "day": ctx.today().isoformat(), "items": items, "confirmed_outbound": confirmed}
    write_bundle(out, INBOUND, header, blobs)
    return bundle_id


def build_inbound(ctx: AppContext, desk_id: str, out: BinaryIO) -> str:
    """Write an inbound bundle to `out` (a seekable temporary file); returns its id."""
    for _attempt in range(3):
        out.seek(0)
        out.truncate()
        try:
            return _write(ctx, desk_id, out)
        except _Changed:
            continue
    raise ApiError(503, "busy", "the server's contents kept changing while the bundle was written; try again")
