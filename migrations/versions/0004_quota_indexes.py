"""Partial indexes for the storage quotas (server/quotas.py): each holds only the rows still
waiting (an envelope or an upload not yet acknowledged), so summing what the server holds
for the desk never reads acknowledged rows. Unfiled uploads are found by ix_uploads_case
(case_id IS NULL) already.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same expressions as the queries in server/quotas.py, so each dialect renders the
# index's WHERE exactly as the query's (SQLite uses a partial index only then).
_WAITING = {
    "ix_cases_waiting": ("cases", ["case_id"], sa.column("report_envelope").is_not(None)),
    "ix_followups_waiting": ("followups", ["case_id", "seq"], sa.column("envelope").is_not(None)),
    "ix_uploads_unacked": ("uploads", ["chunks"], sa.column("acked", sa.Boolean).is_(False)),
}


def upgrade() -> None:
    for name, (table, columns, where) in _WAITING.items():
        op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, (table, _columns, _where) in _WAITING.items():
        op.drop_index(name, table_name=table)
