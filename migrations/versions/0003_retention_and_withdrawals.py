"""Retention and withdrawal: `cases.expires_day`, `replies.expires_day`, and `withdrawals`.

Existing rows get an expiry as a new one would (server/retention.py): a case from its last
activity (its own day, its last follow-up's or reply's), a reply from its own day, plus the
configured retention and a random spread of 0..retention_spread_days, so that an expiry
day does not tell the day of the activity behind it.

`withdrawals` holds the sealed envelope of each withdrawal until a desk acknowledges it,
under a random id and a day, with no column that names the case (deleted when it was
withdrawn). Downgrading drops the table, so withdrawals no desk has pulled yet are lost:
pull first.

The expiry columns are nullable because SQLite can add a NOT NULL column only by
rebuilding `cases`, which the other tables refer to; every row is filled here and every
insert sets them.

Revision ID: 0003
Revises: 0002
"""

import secrets
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _retention() -> tuple[int, int, int]:
    from server.settings import Settings

    settings = Settings()
    return settings.case_retention_days, settings.reply_retention_days, settings.retention_spread_days


def upgrade() -> None:
    op.add_column("cases", sa.Column("expires_day", sa.Date(), nullable=True))
    op.create_index(op.f("ix_cases_expires_day"), "cases", ["expires_day"])
    op.add_column("replies", sa.Column("expires_day", sa.Date(), nullable=True))
    op.create_index(op.f("ix_replies_expires_day"), "replies", ["expires_day"])
    op.create_table(
        "withdrawals",
        sa.Column("withdrawal_id", sa.String(32), nullable=False),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("withdrawal_id", name=op.f("pk_withdrawals")),
    )

    case_days, reply_days, spread = _retention()
    cases = sa.table("cases", sa.column("case_id", sa.String), sa.column("created_day", sa.Date), sa.column("expires_day", sa.Date))
    followups = sa.table("followups", sa.column("case_id", sa.String), sa.column("created_day", sa.Date))
    replies = sa.table(
        "replies", sa.column("case_id", sa.String), sa.column("seq", sa.Integer),
        sa.column("created_day", sa.Date), sa.column("expires_day", sa.Date),
    )
    bind = op.get_bind()
    last: dict[str, object] = {}
    for table in (cases, followups, replies):
        for case_id, day in bind.execute(sa.select(table.c.case_id, sa.func.max(table.c.created_day)).group_by(table.c.case_id)):
            if day is not None and (case_id not in last or day > last[case_id]):
                last[case_id] = day
    for case_id, day in last.items():
        expires = day + timedelta(days=case_days + secrets.randbelow(spread + 1))
        bind.execute(sa.update(cases).where(cases.c.case_id == case_id).values(expires_day=expires))
    for case_id, seq, day in bind.execute(sa.select(replies.c.case_id, replies.c.seq, replies.c.created_day)).all():
        expires = day + timedelta(days=reply_days + secrets.randbelow(spread + 1))
        bind.execute(sa.update(replies).where(replies.c.case_id == case_id, replies.c.seq == seq).values(expires_day=expires))


def downgrade() -> None:
    op.drop_table("withdrawals")
    op.drop_index(op.f("ix_replies_expires_day"), table_name="replies")
    op.drop_column("replies", "expires_day")
    op.drop_index(op.f("ix_cases_expires_day"), table_name="cases")
    op.drop_column("cases", "expires_day")
