"""The running server's SQLite file, held to its path.

If the database's folder is unmounted, moved or removed under a running server, pooled
connections would go on writing to the file they opened (or to a deleted one, lost for good)
and a new connection would create an empty database in its place. Instead:

- a connection opens the file only if it exists (`mode=rw`): it never creates one (Alembic,
  through `make_engine`, is what creates the database);
- each time a connection is taken from the pool, the path must still name the very file it
  opened; otherwise the connection is dropped and a new one is opened, which fails while the
  file is gone (SQLITE_CANTOPEN, answered 503 `unavailable`: server/faults.py) and works
  again once it is back.
"""

import os
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

_FILE = "quietline_sqlite_file"


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def hold_to_path(engine: Engine, path: Path) -> None:
    path = Path(path)

    @event.listens_for(engine, "do_connect")
    def _open_existing(_dialect, _record, cargs, cparams) -> None:
        cargs[:] = [f"file:{quote(str(path))}?mode=rw"]
        cparams["uri"] = True

    @event.listens_for(engine, "connect")
    def _remember(_dbapi_connection, record) -> None:
        record.info[_FILE] = _identity(path)

    @event.listens_for(engine, "checkout")
    def _still_there(_dbapi_connection, record, _proxy) -> None:
        if _identity(path) != record.info.get(_FILE):
            raise DisconnectionError("the database file is no longer the one at its path")
