"""The schema exists only through Alembic, matches the models, goes down and up again,
and has no column that could hold an address, a user agent or a time of day."""

from datetime import date, timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import DateTime, Time, inspect, text

from server.storage.db import make_engine
from server.storage.migrate import downgrade, upgrade
from server.storage.models import Base

from .support import TABLES, Submitter, attachment, file_case, make_reply, outbound_bundle


def test_migrations_match_the_models(env):
    engine = make_engine(env.database_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
        assert diff == []
        assert set(inspect(engine).get_table_names()) == set(TABLES) | {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_go_down_and_up_with_data(client, env, org):
    file_case(client, Submitter(), [org.desks["desk-1"]], [attachment(10)])
    assert env.count("cases") == 1
    client.app.state.ctx.db.dispose()
    env.dispose()
    downgrade(env.database_url, "base")
    engine = make_engine(env.database_url)
    try:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(env.database_url)
    assert all(env.count(t) == 0 for t in TABLES)


def test_migration_0003_goes_down_and_up_with_data_and_fills_every_expiry(client, env, org, settings):
    desk = org.desks["desk-1"]
    busy, quiet, gone = Submitter(), Submitter(), Submitter()
    for s in (busy, quiet, gone):
        file_case(client, s, [desk], [attachment(10, seed=len(s.case_id))])
    followup = client.post("/api/v1/cases/followups", json={"lookup": busy.lookup, "envelope": _b64(busy.followup([desk]))})
    assert followup.status_code == 201, followup.text
    pushed = client.post(
        "/api/v1/desk/outbound",
        content=outbound_bundle(desk, replies=[(busy.case_id, 1, make_reply(desk, busy, 1))])[1],
        headers={**org.auth(), "Content-Type": "application/octet-stream"},
    )
    assert pushed.status_code == 200, pushed.text
    withdrawn = client.post("/api/v1/cases/withdraw", json={"lookup": gone.lookup, "envelope": _b64(gone.followup([desk]))})
    assert withdrawn.status_code == 200, withdrawn.text
    kept = {t: env.rows(t) for t in ("followups", "uploads", "upload_chunks", "outbound_bundles")}
    client.app.state.ctx.db.dispose()
    env.dispose()

    downgrade(env.database_url, "0002")
    engine = make_engine(env.database_url)
    try:
        assert "withdrawals" not in inspect(engine).get_table_names()
        assert "expires_day" not in {c["name"] for c in inspect(engine).get_columns("cases")}
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM cases")).scalar() == 2
            # Activity on three days: the busy case's last is its reply, 40 days after its report.
            conn.execute(text("UPDATE cases SET created_day = '2026-01-10'"))
            conn.execute(text("UPDATE followups SET created_day = '2026-02-01'"))
            conn.execute(text("UPDATE replies SET created_day = '2026-02-19'"))
    finally:
        engine.dispose()

    upgrade(env.database_url)
    spread = timedelta(days=settings.retention_spread_days)
    cases = {case_id: expires for case_id, _, _, expires in env.rows("cases")}
    assert set(cases) == {busy.case_id, quiet.case_id}
    quiet_from = date(2026, 1, 10) + timedelta(days=settings.case_retention_days)
    busy_from = date(2026, 2, 19) + timedelta(days=settings.case_retention_days)
    assert quiet_from <= date.fromisoformat(cases[quiet.case_id]) <= quiet_from + spread
    assert busy_from <= date.fromisoformat(cases[busy.case_id]) <= busy_from + spread
    [(case_id, seq, _blob, day, expires)] = env.rows("replies")
    reply_from = date(2026, 2, 19) + timedelta(days=settings.reply_retention_days)
    assert (case_id, seq, day) == (busy.case_id, 1, "2026-02-19") and reply_from <= date.fromisoformat(expires) <= reply_from + spread
    assert env.rows("withdrawals") == []  # dropped on the way down, as its docstring warns
    assert [r[:2] for r in env.rows("followups")] == [r[:2] for r in kept["followups"]]
    assert {t: env.rows(t) for t in ("uploads", "upload_chunks", "outbound_bundles")} == {
        t: kept[t] for t in ("uploads", "upload_chunks", "outbound_bundles")
    }


def _b64(data: bytes) -> str:
    from crypto.encoding import b64encode

    return b64encode(data)


def test_foreign_keys_are_enforced_and_sqlite_uses_wal(ctx, env):
    import pytest
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from server.storage.models import UploadChunk

    with pytest.raises(IntegrityError):
        with ctx.db.write() as session:
            session.execute(insert(UploadChunk).values(upload_id="0" * 32, index=0))
    if env.is_sqlite:
        with ctx.db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_no_column_can_hold_an_address_agent_or_time():
    forbidden = ("ip", "addr", "agent", "ua", "time", "host", "ts", "created_at", "updated_at", "seen")
    for table in Base.metadata.tables.values():
        for column in table.columns:
            assert not isinstance(column.type, (DateTime, Time)), column
            words = column.name.lower().split("_")
            assert not any(w in forbidden for w in words), column
            assert "created_at" not in column.name


def test_a_withdrawal_row_names_no_case():
    """Nothing links a stored withdrawal to the case it deleted: a random id, a day, the
    sealed envelope, and no foreign key or other column."""
    withdrawals = Base.metadata.tables["withdrawals"]
    assert set(withdrawals.columns.keys()) == {"withdrawal_id", "created_day", "envelope"}
    assert not withdrawals.foreign_keys


def test_only_days_are_stored(client, env, org):
    file_case(client, Submitter(), [org.desks["desk-1"]])
    [(_, day, _, expires)] = env.rows("cases")
    assert day == "2026-11-23" and len(expires) == 10
    engine = make_engine(env.database_url)
    try:
        inspector = inspect(engine)
        for table in TABLES:
            for column in inspector.get_columns(table):
                if column["name"].endswith("_day"):
                    assert str(column["type"]).upper() == "DATE", (table, column)
    finally:
        engine.dispose()
