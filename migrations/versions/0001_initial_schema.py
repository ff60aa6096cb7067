"""Initial schema: cases, follow-ups, uploads and their chunks, replies, outbound bundles.

Days only (no timestamps), no address or user-agent column anywhere.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.Column("report_envelope", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_cases")),
    )
    op.create_table(
        "followups",
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_followups_seq_positive")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"], name=op.f("fk_followups_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_followups")),
    )
    op.create_table(
        "uploads",
        sa.Column("upload_id", sa.String(32), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.Column("case_id", sa.String(32), nullable=True),
        sa.Column("followup_seq", sa.Integer(), nullable=True),
        sa.Column("acked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("chunks >= 1", name=op.f("ck_uploads_chunks_positive")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"], name=op.f("fk_uploads_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["case_id", "followup_seq"], ["followups.case_id", "followups.seq"], name="fk_uploads_followup"
        ),
        sa.PrimaryKeyConstraint("upload_id", name=op.f("pk_uploads")),
    )
    op.create_index("ix_uploads_case", "uploads", ["case_id", "followup_seq"])
    op.create_index("ix_uploads_created_day", "uploads", ["created_day"])
    op.create_table(
        "upload_chunks",
        sa.Column("upload_id", sa.String(32), nullable=False),
        sa.Column("chunk_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["upload_id"], ["uploads.upload_id"], name=op.f("fk_upload_chunks_upload_id_uploads")),
        sa.PrimaryKeyConstraint("upload_id", "chunk_index", name=op.f("pk_upload_chunks")),
    )
    op.create_table(
        "replies",
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_replies_seq_positive")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.case_id"], name=op.f("fk_replies_case_id_cases")),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_replies")),
    )
    op.create_table(
        "outbound_bundles",
        sa.Column("bundle_id", sa.String(32), nullable=False),
        sa.Column("desk_id", sa.String(32), nullable=False),
        sa.Column("applied_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("bundle_id", name=op.f("pk_outbound_bundles")),
    )
    op.create_index(op.f("ix_outbound_bundles_desk_id"), "outbound_bundles", ["desk_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_outbound_bundles_desk_id"), table_name="outbound_bundles")
    op.drop_table("outbound_bundles")
    op.drop_table("replies")
    op.drop_table("upload_chunks")
    op.drop_index("ix_uploads_created_day", table_name="uploads")
    op.drop_index("ix_uploads_case", table_name="uploads")
    op.drop_table("uploads")
    op.drop_table("followups")
    op.drop_table("cases")
