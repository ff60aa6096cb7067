"""A throwaway PostgreSQL 15 cluster for the tests: initdb into a temporary folder, listening
only on a Unix socket in that folder (no TCP port at all), durability switched off for speed
(a test database is never kept), stopped and deleted when the test session ends.

initdb and postgres refuse to run as root, so under root (as here and in CI) they run as the
`postgres` user (runuser); otherwise as whoever runs the tests. The tools are the image's
/usr/lib/postgresql/15/bin (Debian's postgresql-15, which `make test` installs);
QUIETLINE_PG_BIN names another folder.

Each test gets a database of its own, copied from a template migrated once per session
(`CREATE DATABASE ... TEMPLATE`), which costs a few tens of milliseconds instead of running
every migration again."""

import os
import secrets
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_BIN = Path(os.environ.get("QUIETLINE_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"

# Settings for a cluster whose data nobody keeps: nothing waits for the disk.
TEST_CONFIG = {
    "listen_addresses": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "checkpoint_timeout": "30min",
    "log_min_messages": "warning",
    "log_statement": "none",
}


class ClusterUnavailable(RuntimeError):
    """The PostgreSQL tools are missing or the cluster did not start."""


def _run(argv: list[str], *, as_postgres: bool, timeout: float = 120) -> None:
    if as_postgres:
        argv = ["runuser", "-u", PG_USER, "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise ClusterUnavailable(f"{' '.join(argv)} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")


@dataclass
class Cluster:
    root: Path
    as_postgres: bool
    port: int = 5432
    _stopped: bool = field(default=False, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3) reaching `database` over the cluster's socket."""
        return f"postgresql+psycopg://{PG_USER}@/{database}?host={self.socket_dir}&port={self.port}"

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            _run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-s", "-w", "stop"],
                 as_postgres=self.as_postgres, timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def missing_tools() -> str | None:
    """Why no cluster can be started here, or None."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not os.access(PG_BIN / tool, os.X_OK):
            return (f"PostgreSQL 15 is not installed: {PG_BIN / tool} is missing "
                    "(`make test` installs Debian's postgresql-15; or apt-get install postgresql-15)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root, and runuser (util-linux) is missing to start PostgreSQL as the postgres user"
    return None


def start_cluster() -> Cluster:
    reason = missing_tools()
    if reason:
        raise ClusterUnavailable(reason)
    as_postgres = os.geteuid() == 0
    # A short path: a Unix socket's path is limited to about 100 bytes.
    root = Path(tempfile.mkdtemp(prefix="qlpg-", dir="/tmp"))
    cluster = Cluster(root, as_postgres)
    try:
        if as_postgres:
            shutil.chown(root, PG_USER)
        _run([str(PG_BIN / "initdb"), "-D", str(cluster.data_dir), "-U", PG_USER, "--auth=trust",
              "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"], as_postgres=as_postgres)
        config = {**TEST_CONFIG, "unix_socket_directories": f"'{cluster.socket_dir}'", "port": str(cluster.port)}
        with (cluster.data_dir / "postgresql.conf").open("a", encoding="utf-8") as f:
            f.writelines(f"{key} = {value}\n" for key, value in config.items())
        _run([str(PG_BIN / "pg_ctl"), "-D", str(cluster.data_dir), "-l", str(root / "server.log"),
              "-w", "-t", "60", "-s", "start"], as_postgres=as_postgres)
    except BaseException:
        cluster._stopped = not (cluster.data_dir / "postmaster.pid").exists()
        if cluster._stopped:
            shutil.rmtree(root, ignore_errors=True)
        else:
            cluster.stop()
        raise
    return cluster


class DatabaseServer:
    """Fresh databases on one PostgreSQL server (the throwaway cluster, or the server that
    QUIETLINE_TEST_DATABASE_URL names), each a copy of a template at the latest migration."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self._template_ready = False
        self.template = f"qltemplate_{secrets.token_hex(4)}"

    def url(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def _ensure_template(self) -> None:
        if self._template_ready:
            return
        from server.storage.migrate import upgrade

        self._execute(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")
        self._execute(f"CREATE DATABASE {self.template}")
        upgrade(self.url(self.template))  # its engine is disposed: no connection holds the template
        self._template_ready = True

    @contextmanager
    def fresh_database(self, *, migrated: bool = True):
        """A new database (at the latest migration unless `migrated` is False), dropped after."""
        name = f"qltest_{secrets.token_hex(6)}"
        if migrated:
            self._ensure_template()
            self._execute(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        else:
            self._execute(f"CREATE DATABASE {name}")
        try:
            yield self.url(name)
        finally:
            self._execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        if self._template_ready:
            self._execute(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")
        self.admin.dispose()
