"""Server conditions that are nobody's request's fault, told apart from bugs: the disk (or the
database's disk) is full, or the database cannot be reached. Each gets a stable code the
browser translates, instead of a bare 500 (docs/API.md, "Server conditions"):

- 507 `storage_full`: a file or the database could not grow (ENOSPC, EDQUOT, EFBIG;
  SQLite's SQLITE_FULL; PostgreSQL's disk_full). Nothing was stored: chunk files are
  written to a temporary name and renamed only when whole, and rows commit or roll back.
- 503 `unavailable`: the database cannot be opened, is locked past the busy timeout, or
  fails with an I/O error (SQLite); the connection failed or the server is shutting down
  (PostgreSQL). Nothing was stored; the same request succeeds once the database is back.

Anything else (a missing table, a programming error) stays a 500 `internal_error`.
"""

import errno
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# SQLite primary result codes (sqlite3.Error.sqlite_errorname, extended names start with them).
_SQLITE_FULL = ("SQLITE_FULL",)
_SQLITE_UNAVAILABLE = (
    "SQLITE_CANTOPEN",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_IOERR",
    "SQLITE_READONLY",
    "SQLITE_PERM",
    "SQLITE_NOTADB",
    "SQLITE_CORRUPT",
    "SQLITE_PROTOCOL",
)
# PostgreSQL SQLSTATEs: 53100 disk_full; class 08 connection exceptions, 57P01-57P03
# (admin or crash shutdown, cannot connect now), 53300 too many connections.
_PG_FULL = ("53100",)
_PG_UNAVAILABLE = ("08", "57P01", "57P02", "57P03", "53300")


@dataclass(frozen=True)
class Fault:
    status: int
    code: str
    message: str
    reason: str  # for the log: what kind of fault, never anything from the request


STORAGE_FULL = "the server cannot take more data now; nothing was stored, try again later"
UNAVAILABLE = "the server's database is unavailable; nothing was stored, try again in a moment"


def _full(reason: str) -> Fault:
    return Fault(507, "storage_full", STORAGE_FULL, reason)


def _unavailable(reason: str) -> Fault:
    return Fault(503, "unavailable", UNAVAILABLE, reason)


def _database_fault(error: BaseException) -> Fault | None:
    name = getattr(error, "sqlite_errorname", None)
    if isinstance(name, str):
        if name.startswith(_SQLITE_FULL):
            return _full(name)
        if name.startswith(_SQLITE_UNAVAILABLE):
            return _unavailable(name)
        return None
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(state, str):
        if state.startswith(_PG_FULL):
            return _full(f"SQLSTATE {state}")
        if state.startswith(_PG_UNAVAILABLE):
            return _unavailable(f"SQLSTATE {state}")
    return None


def classify(exc: BaseException) -> Fault | None:
    """The server condition behind `exc` (or its causes), or None for a plain bug."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return _full(errno.errorcode.get(current.errno, "ENOSPC"))
        if isinstance(current, sa_exc.DBAPIError):
            fault = _database_fault(current.orig)
            if fault is not None:
                return fault
            if current.connection_invalidated or (
                isinstance(current, sa_exc.OperationalError) and getattr(current.orig, "sqlite_errorname", None) is None
            ):
                # A lost connection, or a driver without SQLite's codes saying the server is gone.
                return _unavailable(type(current.orig).__name__)
        if isinstance(current, sa_exc.TimeoutError):
            return _unavailable("connection pool timeout")
        current = current.__cause__ or current.__context__
    return None
