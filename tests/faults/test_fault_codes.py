"""server/faults.py tells the server's conditions from bugs, on errors the drivers really
raise: a SQLite database locked by another process past the busy timeout and a PostgreSQL
server that is not there are 503 `unavailable`; a full disk is 507 `storage_full`; a missing
table or a missing file stays a bug (500)."""

import errno
import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from server.faults import classify


def failure(engine, sql: str) -> DBAPIError:
    with pytest.raises(DBAPIError) as info:
        with engine.begin() as connection:
            connection.execute(text(sql))
    engine.dispose()
    return info.value


def test_a_database_another_process_holds_locked_is_unavailable(tmp_path):
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")  # as a backup tool or a stuck process would
    try:
        error = failure(create_engine(f"sqlite:///{path}", connect_args={"timeout": 0}), "INSERT INTO t VALUES (1)")
    finally:
        holder.close()
    fault = classify(error)
    assert (fault.status, fault.code, fault.reason) == (503, "unavailable", "SQLITE_BUSY")


def test_a_postgresql_server_that_is_not_there_is_unavailable(tmp_path):
    error = failure(create_engine(f"postgresql+psycopg://quietline@/quietline?host={tmp_path}&port=5999"), "SELECT 1")
    fault = classify(error)
    assert (fault.status, fault.code) == (503, "unavailable")


def test_a_missing_table_is_a_bug_not_a_condition(tmp_path):
    assert classify(failure(create_engine(f"sqlite:///{tmp_path / 'empty.db'}"), "SELECT * FROM cases")) is None


@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EDQUOT, errno.EFBIG])
def test_a_full_disk_is_storage_full(number):
    try:
        try:
            raise OSError(number, "no room")
        except OSError as exc:
            raise RuntimeError("while writing a chunk") from exc  # found through the cause too
    except RuntimeError as wrapped:
        fault = classify(wrapped)
    assert (fault.status, fault.code, fault.reason) == (507, "storage_full", errno.errorcode[number])


@pytest.mark.parametrize("number", [errno.ENOENT, errno.EACCES, errno.EIO])
def test_other_file_errors_are_bugs(number):
    assert classify(OSError(number, "other")) is None
