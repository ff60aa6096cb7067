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
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_BIN = Path(os.environ.get("QUIETLINE_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"
TMP, PREFIX = "/tmp", "qlpg-"
OWNER = "owner.pid"  # the test session's process id, to tell an abandoned cluster

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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned_clusters(as_postgres: bool) -> None:
    """Stop and delete the clusters of test sessions that were killed before they could (their
    owner process is gone); a cluster another session is using is left alone."""
    for root in Path(TMP).glob(f"{PREFIX}*"):
        try:
            owner = int((root / OWNER).read_text())
        except (OSError, ValueError):
            continue  # being set up right now, or not ours
        if not _alive(owner):
            cluster = Cluster(root, as_postgres)
            try:
                cluster.stop()
            except ClusterUnavailable:
                shutil.rmtree(root, ignore_errors=True)  # not running any more: only the folder


def start_cluster() -> Cluster:
    reason = missing_tools()
    if reason:
        raise ClusterUnavailable(reason)
    as_postgres = os.geteuid() == 0
    remove_abandoned_clusters(as_postgres)
    # A short path: a Unix socket's path is limited to about 100 bytes.
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=TMP))
    (root / OWNER).write_text(str(os.getpid()))
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
    QUIETLINE_TEST_DATABASE_URL names), each a copy of a template at the latest migration.
    The next copy is made in the background while a test runs (a copy costs about as much
    as a short test), and a test's database is dropped by the same thread afterwards."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.template = f"qltemplate_{secrets.token_hex(4)}"
        self._template_ready = False
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-databases")
        self._next: Future | None = None
        self._drops: list[Future] = []

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

    def _copy(self) -> str:
        name = f"qltest_{secrets.token_hex(6)}"
        self._execute(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        return name

    def _drop(self, name: str) -> None:
        self._execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    @contextmanager
    def fresh_database(self, *, migrated: bool = True):
        """A new database (at the latest migration unless `migrated` is False), dropped after."""
        if migrated:
            self._ensure_template()
            name = (self._next or self._background.submit(self._copy)).result()
            self._next = self._background.submit(self._copy)
        else:
            name = f"qltest_{secrets.token_hex(6)}"
            self._execute(f"CREATE DATABASE {name}")
        try:
            yield self.url(name)
        finally:
            # WITH (FORCE) ends any connection a test left open. Not waited for: close()
            # checks that every drop succeeded.
            self._drops.append(self._background.submit(self._drop, name))

    def close(self) -> None:
        try:
            for drop in self._drops:
                drop.result()
            if self._next is not None:
                self._drop(self._next.result())
            if self._template_ready:
                self._drop(self.template)
        finally:
            self._background.shutdown()
            self.admin.dispose()
