"""The schema exists only through Alembic, matches the models, goes down and up again,
and has no column that could hold an address, a user agent or a time of day."""

from datetime import date, timedelta

import pytest
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


# -- every migration down and up again, with data, leaving the schema it made -------------


def schema_of(url: str) -> dict:
    """Everything SQLAlchemy's inspector reports of the schema, in a comparable form: each
    table's columns in order (type, nullability, default), primary key, foreign keys,
    indexes (with a partial index's WHERE), unique and check constraints; Alembic's own
    alembic_version table aside."""
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        schema = {}
        for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
            checks = inspector.get_check_constraints(table)
            schema[table] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in inspector.get_columns(table)],
                "primary_key": (inspector.get_pk_constraint(table)["name"], tuple(inspector.get_pk_constraint(table)["constrained_columns"])),
                "foreign_keys": sorted(
                    (fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
                    for fk in inspector.get_foreign_keys(table)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]),
                     tuple(sorted((k, " ".join(str(v).split())) for k, v in i.get("dialect_options", {}).items() if k.endswith("_where"))))
                    for i in inspector.get_indexes(table)
                ),
                "unique": sorted((u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)),
                "checks": sorted((c["name"], " ".join(c["sqltext"].split())) for c in checks),
            }
        return schema
    finally:
        engine.dispose()


def revisions() -> list[str]:
    """Every revision from the first to the head, in order."""
    from alembic.script import ScriptDirectory

    from server.storage.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


def fill(client, org) -> None:
    """A bit of everything the server stores: cases with a filed upload and follow-ups with
    one, a reply, an acknowledged report, an outbound bundle, an unfiled resumable upload
    and a withdrawal."""
    from .support import upload

    desk = org.desks["desk-1"]
    busy, acked, gone = Submitter(), Submitter(), Submitter()
    for s in (busy, acked, gone):
        file_case(client, s, [desk], [attachment(10, seed=len(s.case_id) + ord(s.case_id[0]))])
    late = attachment(300_000, seed=3)
    upload(client, late)
    followup = client.post("/api/v1/cases/followups", json={
        "lookup": busy.lookup, "envelope": _b64(busy.followup([desk], [late.descriptor()])), "uploads": [late.upload_id]})
    assert followup.status_code == 201, followup.text
    pushed = client.post(
        "/api/v1/desk/outbound",
        content=outbound_bundle(desk, acks=[{"type": "report", "case_id": acked.case_id}],
                                replies=[(busy.case_id, 1, make_reply(desk, busy, 1))])[1],
        headers={**org.auth(), "Content-Type": "application/octet-stream"},
    )
    assert pushed.status_code == 200, pushed.text
    resumable = client.post("/api/v1/uploads", json={"chunks": 1, "resume": _b64(b"r" * 32), "header": _b64(b"h" * 24)})
    assert resumable.status_code == 201, resumable.text
    withdrawn = client.post("/api/v1/cases/withdraw", json={"lookup": gone.lookup, "envelope": _b64(gone.followup([desk]))})
    assert withdrawn.status_code == 200, withdrawn.text


def test_every_migration_goes_down_and_up_with_data_leaving_the_schema_it_made(client, env, org, blank_database_url):
    """Up from nothing one revision at a time (the reference schema at each); fill the
    database; then for each migration from the newest down: down with data, up again with
    data, and down again. At every step the schema equals the reference at that revision,
    and the rows of every table both revisions have are still there. Last, up to the head:
    the schema is the head's again, and the server still works on the old data."""
    revs = revisions()
    fresh = blank_database_url
    reference = {"base": schema_of(fresh)}
    for rev in revs:
        upgrade(fresh, rev)
        reference[rev] = schema_of(fresh)
    assert reference[revs[-1]] == schema_of(env.database_url)  # one step at a time = all at once

    fill(client, org)
    client.app.state.ctx.db.dispose()
    counts = {t: env.count(t) for t in TABLES}
    assert all(counts[t] for t in TABLES if t != "withdrawals") and counts["withdrawals"] == 1
    env.dispose()

    steps = ["base", *revs]
    for below, above in reversed(list(zip(steps, steps[1:]))):
        downgrade(env.database_url, below)
        assert schema_of(env.database_url) == reference[below], f"down to {below}"
        upgrade(env.database_url, above)
        assert schema_of(env.database_url) == reference[above], f"down to {below} and up to {above}"
        kept = set(reference[below])
        assert {t: env.count(t) for t in kept} == {t: counts[t] for t in kept}, f"rows lost going down to {below} and up"
        env.dispose()
        downgrade(env.database_url, below)
        env.dispose()

    upgrade(env.database_url)
    assert schema_of(env.database_url) == reference[revs[-1]]
    assert all(env.count(t) == 0 for t in TABLES)  # down to base dropped every table


def test_the_schema_survives_down_and_up_with_data_kept(client, env, org):
    """From the head down to the first revision and back, with data: the same schema as a
    database migrated straight up, and every case, follow-up, upload, reply and bundle kept."""
    revs = revisions()
    reference = schema_of(env.database_url)
    fill(client, org)
    client.app.state.ctx.db.dispose()
    kept = ("cases", "followups", "uploads", "upload_chunks", "replies", "outbound_bundles")
    before = {t: [row[:2] for row in env.rows(t)] for t in kept}
    env.dispose()
    downgrade(env.database_url, revs[0])
    env.dispose()
    upgrade(env.database_url)
    assert schema_of(env.database_url) == reference
    assert {t: [row[:2] for row in env.rows(t)] for t in kept} == before
    assert env.rows("withdrawals") == []  # dropped on the way down (migration 0003 says so)


@pytest.mark.sqlite_only(reason="on PostgreSQL, test_api_workers.py starts three servers at once on an empty database")
def test_migrations_started_at_once_run_one_after_another(blank_database_url):
    """Workers started together each migrate first (`quietline serve`): three processes
    upgrading one empty database at once all succeed, and it ends at the head, migrated once."""
    import subprocess
    import sys

    from alembic.runtime.migration import MigrationContext

    from server.settings import REPO_ROOT

    code = "import sys; from server.storage.migrate import upgrade; upgrade(sys.argv[1])"
    runs = [subprocess.Popen([sys.executable, "-c", code, blank_database_url], cwd=REPO_ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(3)]
    outputs = [(run.wait(120), run.stdout.read().decode(errors="replace")) for run in runs]
    assert [status for status, _ in outputs] == [0, 0, 0], "\n".join(out for _, out in outputs)
    engine = make_engine(blank_database_url)
    try:
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_heads() == (revisions()[-1],)
            diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()
