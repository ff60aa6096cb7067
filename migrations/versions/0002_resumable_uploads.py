"""Resumable uploads: an unfiled upload can be found again by its resume index.

`resume_index` is hex(BLAKE2b-16(resume)), never `resume` itself (docs/PROTOCOL.md,
"Resumable attachments"); it is unique among unfiled uploads and cleared when the upload is
filed. `stream_header` is the attachment stream's public 24-byte secretstream header.
Plain ADD COLUMN and a unique index, so SQLite need not rebuild the uploads table.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("uploads", sa.Column("resume_index", sa.String(32), nullable=True))
    op.add_column("uploads", sa.Column("stream_header", sa.LargeBinary(), nullable=True))
    op.create_index("ix_uploads_resume_index", "uploads", ["resume_index"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_uploads_resume_index", table_name="uploads")
    op.drop_column("uploads", "stream_header")
    op.drop_column("uploads", "resume_index")
