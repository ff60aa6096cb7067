"""The blob store behind attachments (server/storage/blobs.py, server/storage/s3.py): the
interface's promises on the local folder and on an S3-compatible object store alike, then
what only the object store needs showing: object keys that hold nothing but an upload id
and a chunk index, botocore's own retries, an outage answered 503 with nothing stored, a
bucket that is not there refused at startup, and credentials that never reach a log.

The object store is a real HTTP server on loopback (moto_server, tests/api/blobstores.py);
a small proxy in front of it (FlakyProxy) refuses requests on demand, as a store under load
or down would."""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest
from click.testing import CliRunner

from crypto.attachment import CHUNK_CIPHERTEXT
from crypto.encoding import b64encode
from quietline_cli import main
from server.app import create_app
from server.settings import REPO_ROOT, Settings
from server.storage.blobs import BlobStore, BlobStoreUnavailable, ChunkMissing, LocalBlobStore
from server.storage.s3 import S3BlobStore

from .blobstores import BLOB_BACKENDS, S3_CREDENTIALS, S3_PREFIX, both_blob_stores
from .support import ProvingHttpClient, Submitter, attachment, file_case, outbound_bundle, upload

IDS = [f"{n:02x}" * 16 for n in (0xA1, 0xB2, 0xC3, 0xD4, 0xE5)]


def chunk(n: int) -> bytes:
    return bytes([n % 256]) * CHUNK_CIPHERTEXT


@pytest.fixture(params=BLOB_BACKENDS)
def store(request, tmp_path) -> BlobStore:
    """Each store as the server builds it; the object store lists two entries a page and
    deletes two keys a request, so paging and batching are exercised with a few objects."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    made = request.getfixturevalue("bucket")
    s3 = S3BlobStore(made.name, S3_PREFIX, endpoint_url=made.store.url, spool_dir=tmp_path / "spool", page_size=2)
    s3.delete_batch = 2
    return s3


# -- the interface, on both stores ---------------------------------------------------------


def test_a_staged_chunk_is_invisible_until_committed_and_a_discarded_one_leaves_nothing(store):
    staged = store.stage_chunk(IDS[0], 0, chunk(1))
    with pytest.raises(ChunkMissing):
        list(store.read_chunks(IDS[0], 1))
    staged.commit()
    assert list(store.read_chunks(IDS[0], 1)) == [chunk(1)]

    store.stage_chunk(IDS[1], 0, chunk(2)).discard()
    with pytest.raises(ChunkMissing):
        list(store.read_chunks(IDS[1], 1))
    store.delete_upload(IDS[1])  # what the sweep does to an upload that is gone (an empty folder, locally)
    assert store.upload_ids() == [IDS[0]]


def test_chunks_come_back_in_order_and_a_later_copy_replaces_an_earlier_one(store):
    for index in (2, 0, 1):
        store.put_chunk(IDS[0], index, chunk(index))
    store.put_chunk(IDS[0], 1, chunk(9))
    assert list(store.read_chunks(IDS[0], 3)) == [chunk(0), chunk(9), chunk(2)]
    # A missing chunk is reported when reached, after the ones before it.
    reader = store.read_chunks(IDS[0], 4)
    assert [next(reader) for _ in range(3)] == [chunk(0), chunk(9), chunk(2)]
    with pytest.raises(ChunkMissing):
        next(reader)


def test_deleting_an_upload_removes_all_its_chunks_and_nothing_else(store):
    for index in range(5):  # three delete requests on the object store
        store.put_chunk(IDS[0], index, chunk(index))
    store.put_chunk(IDS[1], 0, chunk(7))
    store.delete_upload(IDS[0])
    store.delete_upload(IDS[0])  # already gone: not an error
    store.delete_upload(IDS[2])  # never stored: not an error
    assert store.upload_ids() == [IDS[1]]
    with pytest.raises(ChunkMissing):
        list(store.read_chunks(IDS[0], 1))
    assert list(store.read_chunks(IDS[1], 1)) == [chunk(7)]


def test_every_stored_upload_is_listed_across_pages(store):
    for upload_id in reversed(IDS):  # five uploads: three pages on the object store
        store.put_chunk(upload_id, 0, chunk(1))
        store.put_chunk(upload_id, 1, chunk(2))
    assert store.upload_ids() == sorted(IDS)
    assert store.upload_ids() == sorted(IDS)  # listing changes nothing


@pytest.mark.parametrize("upload_id", ["", "0" * 31, "A" * 32, "../" + "0" * 29, "0" * 16 + "/" + "0" * 15, "0" * 33])
def test_a_name_is_only_ever_an_upload_id_and_an_index(store, upload_id):
    with pytest.raises(ValueError):
        store.put_chunk(upload_id, 0, chunk(1))
    for index in (-1, True, "0", 1.0):
        with pytest.raises(ValueError):
            store.put_chunk(IDS[0], index, chunk(1))
    assert store.upload_ids() == []


def test_a_spool_is_a_nameless_local_file(store):
    with store.spool() as spool:
        spool.write(b"bundle bytes")
        spool.seek(0)
        assert spool.read() == b"bundle bytes"
        folder = store.tmp if isinstance(store, LocalBlobStore) else store.spool_dir
        assert list(folder.iterdir()) == []  # unlinked at once: gone if the process dies
    assert store.upload_ids() == []


# -- the object store ----------------------------------------------------------------------


@pytest.mark.parametrize("blob_backend", ["s3"], indirect=True)
def test_object_keys_hold_only_the_upload_id_and_the_chunk_index(client, env, org, bucket, ctx):
    desk = org.desks["desk-1"]
    person = Submitter()
    files = [attachment(300_000, seed=1), attachment(10, seed=2)]
    file_case(client, person, [desk], files)
    key = re.compile(rf"^{re.escape(S3_PREFIX)}(?P<upload_id>[0-9a-f]{{32}})/(?P<index>[0-9]{{6}})$")
    keys = bucket.keys()
    assert keys == sorted(f"{S3_PREFIX}{a.upload_id}/{i:06d}" for a in files for i in range(len(a.chunks)))
    assert all(key.match(k) for k in keys)
    for k in keys:  # nothing sent with a chunk: no metadata, no tags, nothing of the case
        head = bucket.store.client().head_object(Bucket=bucket.name, Key=k)
        assert head["Metadata"] == {} and head["ContentLength"] == CHUNK_CIPHERTEXT
        assert bucket.store.client().get_object_tagging(Bucket=bucket.name, Key=k)["TagSet"] == []
    assert person.case_id not in repr(keys) and person.lookup not in repr(keys)
    # The desk gets them back through the store and its acknowledgement deletes them.
    pulled = client.get("/api/v1/desk/inbound", headers=org.auth())
    assert pulled.status_code == 200
    acks = [{"type": "attachment", "upload_id": a.upload_id} for a in files]
    pushed = client.post("/api/v1/desk/outbound", content=outbound_bundle(desk, acks=acks)[1],
                         headers={**org.auth(), "Content-Type": "application/octet-stream"})
    assert pushed.status_code == 200, pushed.text
    assert bucket.keys() == [] and ctx.blobs.upload_ids() == []


class FlakyProxy:
    """A loopback HTTP proxy in front of the object store that answers 503 SlowDown (as S3
    does under load) to the next `fail_next` requests, or to every request while `down`,
    and forwards the rest unchanged; it counts the requests it sees."""

    def __init__(self, target: str):
        self.target = urlsplit(target)
        self.fail_next = 0
        self.down = False
        self.seen = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    proxy.seen += 1
                    refuse = proxy.down or proxy.fail_next > 0
                    if proxy.fail_next > 0:
                        proxy.fail_next -= 1
                if refuse:
                    self._reply(503, {"Content-Type": "application/xml"},
                                b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")
                    return
                upstream = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body or None, headers=dict(self.headers))
                    answer = upstream.getresponse()
                    data = answer.read()
                    headers = {k: v for k, v in answer.getheaders() if k.lower() not in ("transfer-encoding", "connection", "content-length")}
                    self._reply(answer.status, headers, data)
                finally:
                    upstream.close()

            def _reply(self, status: int, headers: dict, data: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(object_store) -> Iterator[FlakyProxy]:
    made = FlakyProxy(object_store.url)
    try:
        yield made
    finally:
        made.close()


def test_transient_refusals_are_retried_by_botocore_up_to_its_budget(bucket, proxy, tmp_path):
    patient = S3BlobStore(bucket.name, S3_PREFIX, endpoint_url=proxy.url, spool_dir=tmp_path / "a", max_attempts=3)
    proxy.fail_next, proxy.seen = 2, 0
    patient.put_chunk(IDS[0], 0, chunk(1))  # refused twice, stored on the third attempt
    assert proxy.seen == 3
    assert bucket.objects() == {f"{S3_PREFIX}{IDS[0]}/000000": chunk(1)}

    hasty = S3BlobStore(bucket.name, S3_PREFIX, endpoint_url=proxy.url, spool_dir=tmp_path / "b", max_attempts=1)
    proxy.fail_next, proxy.seen = 1, 0
    with pytest.raises(BlobStoreUnavailable):
        hasty.put_chunk(IDS[1], 0, chunk(2))
    assert proxy.seen == 1  # no retry of its own beyond botocore's budget
    assert bucket.keys() == [f"{S3_PREFIX}{IDS[0]}/000000"]
    proxy.down = True
    for operation in (lambda: list(hasty.read_chunks(IDS[0], 1)), lambda: hasty.delete_upload(IDS[0]), hasty.upload_ids):
        with pytest.raises(BlobStoreUnavailable):
            operation()


@pytest.fixture
def s3_settings(settings, bucket, proxy) -> Settings:
    """The API test settings with chunks in the test's bucket, reached through the proxy."""
    return settings.model_copy(update={"blob_backend": "s3", "s3_endpoint_url": proxy.url, "s3_bucket": bucket.name,
                                       "s3_prefix": S3_PREFIX, "s3_max_attempts": 2})


def test_an_object_store_outage_answers_503_and_stores_no_chunk(s3_settings, clock, env, bucket, proxy):
    from .support import ProvingClient

    with ProvingClient(create_app(s3_settings, today=clock)) as client:
        upload_id = client.post("/api/v1/uploads", json={"chunks": 2}).json()["upload_id"]
        before = env.snapshot()
        proxy.down = True
        refused = client.put(f"/api/v1/uploads/{upload_id}/chunks/0", content=chunk(1))
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "unavailable"
        proxy.down = False
        assert env.snapshot() == before and bucket.keys() == []  # no row, no object
        assert client.get(f"/api/v1/uploads/{upload_id}").json()["received"] == []
        # The store is back: the same chunk is taken, whole.
        assert client.put(f"/api/v1/uploads/{upload_id}/chunks/0", content=chunk(1)).status_code == 204
        assert client.get(f"/api/v1/uploads/{upload_id}").json()["received"] == [0]
        assert bucket.objects() == {f"{S3_PREFIX}{upload_id}/000000": chunk(1)}


def test_a_server_whose_bucket_is_missing_does_not_start(s3_settings, bucket):
    with pytest.raises(RuntimeError, match="bucket 'no-such-bucket' is not usable"):
        create_app(s3_settings.model_copy(update={"s3_bucket": "no-such-bucket"}))


def test_settings_refuse_an_s3_backend_without_a_bucket_or_with_a_stray_prefix(tmp_path):
    with pytest.raises(ValueError, match="s3_bucket"):
        Settings(blob_backend="s3")
    for prefix in ("quietline", "/abs/", "a//", "../x/"):
        with pytest.raises(ValueError, match="s3_prefix"):
            S3BlobStore("bucket", prefix, endpoint_url="http://127.0.0.1:9", spool_dir=tmp_path)


@pytest.mark.parametrize("blob_backend", ["s3"], indirect=True)
def test_quietline_server_purge_works_on_the_object_store(client, env, clock, bucket, blob_settings, monkeypatch):
    from server.ids import utc_today

    clock.day = utc_today() - timedelta(days=5)
    upload(client, attachment(10))  # unfiled five days ago: the purge (on the real today) takes it
    ghost = "ab" * 16
    bucket.store.client().put_object(Bucket=bucket.name, Key=f"{S3_PREFIX}{ghost}/000000", Body=b"left by a crash")
    monkeypatch.setenv("QUIETLINE_DATABASE_URL", env.database_url)
    monkeypatch.setenv("QUIETLINE_BLOB_DIR", str(env.blob_dir))
    for name, value in blob_settings.items():
        monkeypatch.setenv(f"QUIETLINE_{name.upper()}", value)
    result = CliRunner().invoke(main, ["server", "purge"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 orphan upload(s)" in result.output and "stray files of 1 upload(s)" in result.output, result.output
    assert bucket.keys() == []
    monkeypatch.setenv("QUIETLINE_S3_BUCKET", "no-such-bucket")
    result = CliRunner().invoke(main, ["server", "purge"])
    assert result.exit_code == 1 and "bucket 'no-such-bucket' is not usable" in result.output, result.output


def test_quietline_serve_on_the_object_store_logs_no_credential(org, tmp_path, bucket, proxy):
    # Its own deployment files (not `env`'s): the database is the served process's own SQLite.
    (tmp_path / "manifest.json").write_bytes(org.manifest_bytes)
    (tmp_path / "deployment.json").write_text(json.dumps({"v": 1, "org": "Test Organisation", "root_pk": b64encode(org.root_pk)}))
    (tmp_path / "desk-tokens.json").write_text(json.dumps({"desks": org.token_hashes}))
    (tmp_path / "client").mkdir()
    (tmp_path / "client" / "index.html").write_text("<!doctype html><title>Quietline</title>")
    port = _free_port()
    environment = {
        **os.environ,
        **S3_CREDENTIALS,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "QUIETLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "QUIETLINE_BLOB_DIR": str(tmp_path / "scratch"),
        "QUIETLINE_BLOB_BACKEND": "s3",
        "QUIETLINE_S3_ENDPOINT_URL": proxy.url,
        "QUIETLINE_S3_BUCKET": bucket.name,
        "QUIETLINE_S3_PREFIX": S3_PREFIX,
        "QUIETLINE_S3_MAX_ATTEMPTS": "2",
        "QUIETLINE_MANIFEST": str(tmp_path / "manifest.json"),
        "QUIETLINE_DEPLOYMENT": str(tmp_path / "deployment.json"),
        "QUIETLINE_DESK_TOKENS": str(tmp_path / "desk-tokens.json"),
        "QUIETLINE_CLIENT_DIR": str(tmp_path / "client"),
        "QUIETLINE_POW_KEY_FILE": str(tmp_path / "pow.key"),
        "QUIETLINE_POW_BITS": "4",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen([sys.executable, "-m", "server.cli", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=REPO_ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with ProvingHttpClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get("/deployment.json").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, "server exited early"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
            person, att = Submitter(), attachment(10)
            file_case(http, person, [org.desks["desk-1"]], [att])
            assert http.get("/api/v1/desk/inbound", headers=org.auth()).status_code == 200
            upload_id = http.post("/api/v1/uploads", json={"chunks": 1}).json()["upload_id"]
            proxy.down = True  # the store fails: a logged fault, as the store's errors are
            refused = http.put(f"/api/v1/uploads/{upload_id}/chunks/0", content=chunk(3))
            refused_inbound = http.get("/api/v1/desk/inbound", headers=org.auth())
            proxy.down = False
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
    output = (stdout + stderr).decode("utf-8", "replace")
    assert refused.status_code == 503 and refused_inbound.status_code == 503, (refused.text, refused_inbound.text)
    assert "Application startup complete" in output and "unavailable (object store)" in output, output
    assert bucket.keys() == [f"{S3_PREFIX}{att.upload_id}/000000"]
    for secret in (S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], S3_CREDENTIALS["AWS_ACCESS_KEY_ID"]):
        assert secret not in output, output
    assert upload_id not in output and att.upload_id not in output and bucket.name not in output, output


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
