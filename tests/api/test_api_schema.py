"""The schema exists only through Alembic, matches the models, goes down and up again,
and has no column that could hold an address, a user agent or a time of day."""

import sqlite3

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import DateTime, Time, inspect

from server.storage.db import make_engine
from server.storage.migrate import downgrade, upgrade
from server.storage.models import Base

from .support import TABLES, Submitter, attachment, file_case


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
    downgrade(env.database_url, "base")
    with sqlite3.connect(env.db_path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"alembic_version"}
    upgrade(env.database_url)
    assert all(env.count(t) == 0 for t in TABLES)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(ctx):
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


def test_only_days_are_stored(client, env, org):
    file_case(client, Submitter(), [org.desks["desk-1"]])
    with sqlite3.connect(env.db_path) as conn:
        [day] = conn.execute("SELECT created_day FROM cases").fetchone()
    assert day == "2026-11-23"
