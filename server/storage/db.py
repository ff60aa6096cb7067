"""Engine and sessions. SQLite (WAL, foreign keys, write transactions that take the write
lock up front) is the embedded default; the same code runs on PostgreSQL: only portable
SQL, conditional UPDATEs and primary keys guard concurrent writers."""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ..settings import resolve_database_url
from .sqlite_file import hold_to_path

BUSY_TIMEOUT_MS = 10_000
_BEGIN_OPTION = "quietline_sqlite_begin"
_DEFERRED = "quietline_after_commit"
log = logging.getLogger("quietline.server")
# The tables whose deleted or cleared rows held ciphertext (envelopes and replies).
CIPHERTEXT_TABLES = ("cases", "followups", "replies", "withdrawals")


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the session's transaction has committed (never if it rolls back).
    Used to delete files only after the rows that name them are gone for good."""
    session.info.setdefault(_DEFERRED, []).append(action)


def _run_deferred(session: Session) -> None:
    for action in session.info.pop(_DEFERRED, []):
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - a stray file is swept later
            from ..errors import scrubbed_location

            log.warning("deferred cleanup failed: %s", scrubbed_location(exc))


def _drop_deferred(session: Session) -> None:
    session.info.pop(_DEFERRED, None)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str) -> Engine:
    url = resolve_database_url(url)
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True)

    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # SQLAlchemy emits BEGIN itself (below), so the driver's own transaction
        # handling is switched off; this also makes DDL transactional for Alembic.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=FULL")
        # Deleted rows (a withdrawn or expired case, an acknowledged envelope) are
        # overwritten in the file, not left readable in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # Write transactions take SQLite's write lock at BEGIN, so a transaction that reads
        # then writes never fails with a stale snapshot; reads stay concurrent under WAL.
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def begin_immediately(connection) -> None:
    """SQLite: this connection's transactions take the write lock at BEGIN, as Database.write's
    do (so two migrations started at once run one after the other). Nothing elsewhere."""
    connection.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})


class Database:
    def __init__(self, url: str):
        self.engine = make_engine(url)
        database = make_url(resolve_database_url(url)).database
        if is_sqlite(url) and database and database != ":memory:":
            hold_to_path(self.engine, Path(database))  # never a new or a vanished file (sqlite_file.py)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        write_engine = self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        self._write = sessionmaker(write_engine, expire_on_commit=False)
        for maker in (self._read, self._write):
            event.listen(maker, "after_commit", _run_deferred)
            event.listen(maker, "after_rollback", _drop_deferred)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work; closing the session ends (rolls back) its transaction,
        and objects read stay usable afterwards."""
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed if the block succeeds, rolled back on any exception."""
        with self._write() as session, session.begin():
            yield session

    def forget_deleted(self) -> None:
        """Leave no copy of rows just deleted (a withdrawn or expired case, acknowledged
        ciphertext) in the -wal file: SQLite keeps the older versions of changed pages there
        until they happen to be overwritten, even after a checkpoint. This copies the log into
        the database file (where secure_delete has zeroed the rows) and truncates it to
        nothing. On PostgreSQL, VACUUM (below)."""
        if self.engine.dialect.name == "postgresql":
            self._vacuum_ciphertext_tables()
            return
        if self.engine.dialect.name != "sqlite":
            return
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            cursor.close()
        finally:
            connection.close()
        if busy:
            log.warning("the write-ahead log was not truncated (a reader was busy); the next deletion tries again")

    def _vacuum_ciphertext_tables(self) -> None:
        """PostgreSQL keeps the old version of a deleted or updated row (and its TOAST
        chunks, where envelopes live) in its page until VACUUM prunes it; this prunes now
        instead of whenever autovacuum comes. Pruning compacts each page, which overwrites
        most old versions, but PostgreSQL has no secure_delete: space freed at the end of a
        page keeps its bytes until reused, the write-ahead log holds them until its segments
        are recycled, and versions a running transaction can still see stay for the next
        VACUUM (docs/DEVELOPMENT.md, "PostgreSQL"). VACUUM cannot run in a transaction."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (INDEX_CLEANUP ON) " + ", ".join(CIPHERTEXT_TABLES))

    def dispose(self) -> None:
        self.engine.dispose()
