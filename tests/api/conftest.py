"""Fixtures: a fresh organisation (root key, two desks in a signed manifest, a third desk
key outside it), desk tokens, a temporary deployment folder migrated with Alembic, and
the app under FastAPI's TestClient (ProvingClient: with proofs of work) with a controllable clock."""

import json
import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from nacl.bindings import crypto_sign_keypair

from crypto.desk import DeskKeys
from crypto.encoding import b64encode
from crypto.manifest import Manifest, sign_manifest
from server.app import create_app
from server.security.desk_auth import hash_token, new_token
from server.settings import Settings
from server.storage.migrate import upgrade

from .pgcluster import ClusterUnavailable, DatabaseServer, start_cluster
from .blobstores import blob_backend, blob_settings, bucket, object_store, s3_credentials  # noqa: F401 - fixtures
from .support import Env, ProvingClient

POW_TEST_BITS = 4


@dataclass
class Org:
    root_pk: bytes
    root_sk: bytes
    desks: dict[str, DeskKeys]
    outsider: DeskKeys  # a desk key pair that is not in the manifest
    manifest_bytes: bytes
    tokens: dict[str, str]
    token_hashes: dict[str, str]

    def auth(self, desk_id: str = "desk-1") -> dict:
        return {"Authorization": f"Bearer {desk_id}.{self.tokens[desk_id]}"}


@pytest.fixture(scope="session")
def org() -> Org:
    root_pk, root_sk = crypto_sign_keypair()
    desks = {d: DeskKeys.generate(d, f"Desk {d}") for d in ("desk-1", "desk-2")}
    manifest = Manifest(org="Test Organisation", issued="2026-11-01", desks=tuple(k.public for k in desks.values()))
    tokens = {d: new_token() for d in (*desks, "desk-9")}  # desk-9 has a token but is not in the manifest
    return Org(
        root_pk=root_pk,
        root_sk=root_sk,
        desks=desks,
        outsider=DeskKeys.generate("desk-1", "Impostor"),
        manifest_bytes=sign_manifest(manifest, root_sk),
        tokens=tokens,
        token_hashes={d: hash_token(t) for d, t in tokens.items()},
    )


class Clock:
    def __init__(self) -> None:
        self.day = date(2026, 11, 23)

    def __call__(self) -> date:
        return self.day

    def advance(self, days: int) -> None:
        self.day += timedelta(days=days)


# Every test here that uses the database runs twice: on SQLite (a file in the test's folder)
# and on PostgreSQL (a fresh database of its own on a throwaway cluster, tests/api/pgcluster.py).
# Set QUIETLINE_TEST_DATABASE_URL to a PostgreSQL server's admin URL (e.g.
# postgresql+psycopg://postgres@127.0.0.1:5433/postgres) to use that server instead of the
# cluster. A test marked sqlite_only or postgresql_only(reason) runs on that one database.
BACKENDS = ("sqlite", "postgresql")
SERVER_URL = os.environ.get("QUIETLINE_TEST_DATABASE_URL", "")
API_DIR = Path(__file__).resolve().parent


def pytest_generate_tests(metafunc):
    # Only for tests/api: tests/tamper imports this module's names, this hook among them.
    if "database_url" not in metafunc.fixturenames or not metafunc.definition.path.is_relative_to(API_DIR):
        return
    only = [m.name.removesuffix("_only") for m in metafunc.definition.iter_markers() if m.name in ("sqlite_only", "postgresql_only")]
    backends = [b for b in BACKENDS if not only or b in only]
    metafunc.parametrize("database_url", backends, indirect=True)


@pytest.fixture(scope="session")
def postgresql_server():
    """The PostgreSQL server the postgresql runs use, started on first use. Missing tools
    fail those tests (they are never skipped)."""
    cluster = None
    if SERVER_URL:
        admin_url = SERVER_URL
    else:
        try:
            cluster = start_cluster()
        except ClusterUnavailable as exc:
            reason = str(exc)
        else:
            reason = None
        if reason:
            pytest.fail(f"no PostgreSQL for the postgresql runs: {reason}", pytrace=False)
        admin_url = cluster.url()
    server = DatabaseServer(admin_url)
    try:
        yield server
    finally:
        try:
            server.close()
        finally:
            if cluster is not None:
                cluster.stop()


@pytest.fixture
def database_url(request, tmp_path):
    """SQLite unless parametrized (tests/robustness and tests/tamper use this on SQLite)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path / 'quietline.db'}"
        return
    with request.getfixturevalue("postgresql_server").fresh_database() as url:
        yield url


@pytest.fixture
def blank_database_url(request, database_url, tmp_path):
    """A second database on the same backend as database_url, empty (not migrated)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    with request.getfixturevalue("postgresql_server").fresh_database(migrated=False) as url:
        yield url


@pytest.fixture
def env(tmp_path, org, database_url):
    e = Env(
        root=tmp_path,
        db_path=tmp_path / "quietline.db",
        blob_dir=tmp_path / "blobs",
        client_dir=tmp_path / "client",
        manifest_path=tmp_path / "manifest.json",
        deployment_path=tmp_path / "deployment.json",
        tokens_path=tmp_path / "desk-tokens.json",
        database_url=database_url,
    )
    e.client_dir.mkdir()
    (e.client_dir / "index.html").write_text("<!doctype html><title>Quietline</title><script src=\"/js/app.js\"></script>")
    (e.client_dir / "js").mkdir()
    (e.client_dir / "js" / "app.js").write_text("export const ok = true;\n")
    (e.client_dir / "package.json").write_text("{}")
    (e.client_dir / "node_modules" / "x").mkdir(parents=True)
    (e.client_dir / "node_modules" / "x" / "index.js").write_text("1")
    (e.client_dir / ".env").write_text("SECRET=1")
    (e.client_dir / "scripts").mkdir()
    (e.client_dir / "scripts" / "vendor.mjs").write_text("// build step")
    e.manifest_path.write_bytes(org.manifest_bytes)
    e.deployment_path.write_text(json.dumps({"v": 1, "org": "Test Organisation", "root_pk": b64encode(org.root_pk)}))
    e.tokens_path.write_text(json.dumps({"desks": org.token_hashes}))
    upgrade(e.database_url)
    yield e
    e.dispose()


@pytest.fixture
def settings(env, blob_settings) -> Settings:
    return Settings(
        database_url=env.database_url,
        blob_dir=env.blob_dir,
        manifest=env.manifest_path,
        deployment=env.deployment_path,
        desk_tokens=env.tokens_path,
        client_dir=env.client_dir,
        # Proof of work: the key in the test's folder, a low difficulty that a load never
        # raises (tests/api/test_api_pow.py sets its own) so ProvingClient stays fast.
        pow_key_file=env.root / "pow.key",
        pow_bits=POW_TEST_BITS,
        pow_load_per_minute=10**9,
        **blob_settings,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(settings, clock):
    return create_app(settings, today=clock)


@pytest.fixture
def client(app):
    with ProvingClient(app) as c:
        yield c


@pytest.fixture
def ctx(app):
    return app.state.ctx
