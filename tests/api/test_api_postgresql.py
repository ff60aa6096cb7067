"""What only PostgreSQL does, tested on PostgreSQL (every other tests/api test runs on both):
concurrent writers wait for row locks and for the storage check's advisory lock instead of
SQLite's database-wide write lock, and the old row versions of a withdrawn or acknowledged
envelope are pruned by VACUUM right after the deletion."""

import threading
import time

import pytest
from sqlalchemy import bindparam, insert, text

from crypto.attachment import CHUNK_CIPHERTEXT
from crypto.encoding import b64encode
from server.cases import file_followup
from server.errors import ApiError
from server.quotas import STORAGE_LOCK
from server.settings import Settings
from server.storage.db import CIPHERTEXT_TABLES
from server.storage.models import Upload
from server.uploads import create_upload

from .support import DAY, Submitter, file_case, outbound_bundle

pytestmark = pytest.mark.postgresql_only(reason="row locks, advisory locks and VACUUM are PostgreSQL's")


def dead_row_versions(env) -> dict[str, int]:
    """Row versions deleted or replaced but still in their pages, per ciphertext table and
    its TOAST table (where envelopes live), by pgstattuple."""
    with env.engine().connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pgstattuple"))
        relations = conn.execute(text(
            "SELECT c.relname, c.reltoastrelid::regclass::text FROM pg_class c WHERE c.relname IN :names"
        ).bindparams(bindparam("names", expanding=True)), {"names": list(CIPHERTEXT_TABLES)}).all()
        counts = {}
        for table, toast in relations:
            for relation in (table, toast):
                counts[relation] = conn.execute(text("SELECT dead_tuple_count FROM pgstattuple(:r)"), {"r": relation}).scalar()
        conn.commit()
    return counts


@pytest.mark.parametrize("deletion", ["withdrawal", "acknowledgement"])
def test_deleted_ciphertext_leaves_no_row_version_behind(client, env, org, deletion):
    """A report envelope withdrawn or acknowledged leaves no old row version in the tables
    (and their TOAST tables) that hold ciphertext: the server VACUUMs them right after, where
    SQLite's secure_delete overwrites. Without that VACUUM the deleted versions stay until
    autovacuum comes. PostgreSQL does not overwrite the space it frees, so bytes can remain
    in free space until reused (docs/DEVELOPMENT.md, "PostgreSQL", says what remains)."""
    desk = org.desks["desk-1"]
    gone, kept = Submitter(), Submitter()
    for person in (gone, kept):
        sealed = person.report([desk], text="x" * 5000)  # a 16 KiB envelope: stored in TOAST
        response = client.post("/api/v1/cases", json={"lookup": person.lookup, "envelope": b64encode(sealed)})
        assert response.status_code == 201, response.text
    before = dead_row_versions(env)
    if deletion == "withdrawal":
        response = client.post("/api/v1/cases/withdraw", json={"lookup": gone.lookup, "envelope": b64encode(gone.followup([desk]))})
    else:
        _, bundle = outbound_bundle(desk, acks=[{"type": "report", "case_id": gone.case_id}])
        response = client.post("/api/v1/desk/outbound", content=bundle,
                               headers={**org.auth(), "Content-Type": "application/octet-stream"})
    assert response.status_code == 200, response.text
    assert len(before) == 2 * len(CIPHERTEXT_TABLES)
    assert dead_row_versions(env) == dict.fromkeys(before, 0)
    assert [row[0] for row in env.rows("cases")] == ([kept.case_id] if deletion == "withdrawal" else sorted([gone.case_id, kept.case_id]))


def wait_for_lock_wait(env, timeout: float = 20) -> str:
    """Block until another session of the test's database waits for a lock; its lock type."""
    deadline = time.monotonic() + timeout
    with env.engine().connect() as conn:
        while time.monotonic() < deadline:
            kind = conn.execute(text(
                "SELECT l.locktype FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE NOT l.granted AND a.datname = current_database() LIMIT 1"
            )).scalar()
            if kind:
                return kind
            conn.rollback()
            time.sleep(0.02)
    raise AssertionError("no session waited for the lock")


def in_thread(call):
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except ApiError as exc:
            outcome["error"] = exc.code

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_followup_waits_for_the_case_row_a_withdrawal_holds(client, ctx, env, org):
    """A follow-up arriving while another worker holds the case row (a withdrawal deleting
    it) waits for that transaction, then finds no case, and stores nothing."""
    desk = org.desks["desk-1"]
    person = Submitter()
    file_case(client, person, [desk])
    envelope = b64encode(person.followup([desk]))
    with env.engine().connect() as other:
        other.execute(text("SELECT case_id FROM cases WHERE case_id = :c FOR UPDATE"), {"c": person.case_id})
        thread, outcome = in_thread(lambda: file_followup(ctx, person.lookup, envelope, []))
        assert wait_for_lock_wait(env) in ("tuple", "transactionid")
        other.execute(text("DELETE FROM cases WHERE case_id = :c"), {"c": person.case_id})
        other.commit()
    thread.join(30)
    assert outcome == {"error": "unknown_case"}
    assert env.count("followups") == 0 and env.count("cases") == 0


def test_followups_to_one_case_are_numbered_after_the_lock_is_released(client, ctx, env, org):
    """The same with the other worker committing a follow-up of its own: the waiting one is
    numbered after it."""
    desk = org.desks["desk-1"]
    person = Submitter()
    file_case(client, person, [desk])
    envelope = b64encode(person.followup([desk], text="the second"))
    with env.engine().connect() as other:
        other.execute(text("SELECT case_id FROM cases WHERE case_id = :c FOR UPDATE"), {"c": person.case_id})
        thread, outcome = in_thread(lambda: file_followup(ctx, person.lookup, envelope, []).seq)
        wait_for_lock_wait(env)
        other.execute(text("INSERT INTO followups (case_id, seq, created_day, envelope) VALUES (:c, 1, :d, :e)"),
                      {"c": person.case_id, "d": DAY, "e": b"first"})
        other.commit()
    thread.join(30)
    assert outcome == {"value": 2}
    assert [row[:2] for row in env.rows("followups")] == [(person.case_id, 1), (person.case_id, 2)]


@pytest.fixture
def settings(settings) -> Settings:
    # Room for two chunks waiting, and as many unfiled.
    return Settings(**{**settings.model_dump(), "storage_quota_bytes": 2 * CHUNK_CIPHERTEXT,
                       "unfiled_upload_quota_bytes": 2 * CHUNK_CIPHERTEXT})


def test_the_storage_check_waits_for_another_workers_intake_to_commit(ctx, env):
    """Another worker's intake transaction holds the storage lock and takes the last room;
    an upload checked meanwhile waits for that commit and then counts it: storage_full,
    never a quota passed because both counted the same free room."""
    assert create_upload(ctx, 1).upload_id
    with env.engine().connect() as other:
        other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": STORAGE_LOCK})
        thread, outcome = in_thread(lambda: create_upload(ctx, 1).upload_id)
        assert wait_for_lock_wait(env) == "advisory"
        other.execute(insert(Upload).values(upload_id="f" * 32, chunks=1, created_day=DAY, acked=False))
        other.commit()
    thread.join(30)
    assert outcome == {"error": "storage_full"}
    assert env.count("uploads") == 2
