"""The schema exists only through Alembic, matches the models, goes down and up again,
and has no column that could hold an address, a user agent or a time of day."""

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
    env.dispose()
    downgrade(env.database_url, "base")
    engine = make_engine(env.database_url)
    try:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
    upgrade(env.database_url)
    assert all(env.count(t) == 0 for t in TABLES)


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


def test_only_days_are_stored(client, env, org):
    file_case(client, Submitter(), [org.desks["desk-1"]])
    [(_, day, _)] = env.rows("cases")
    assert day == "2026-11-23"
    engine = make_engine(env.database_url)
    try:
        inspector = inspect(engine)
        for table in TABLES:
            for column in inspector.get_columns(table):
                if column["name"].endswith("_day"):
                    assert str(column["type"]).upper() == "DATE", (table, column)
    finally:
        engine.dispose()
