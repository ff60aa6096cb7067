"""The two blob stores under test: the local folder (the default for every test) and an
S3-compatible object store. The object store is a real HTTP server on a loopback port,
`moto_server` in a process of its own, started once per session on first use; the server
reaches it with boto3 over HTTP as it would reach MinIO, Ceph RGW or AWS S3. Each test
gets an empty bucket of its own.

A test that touches chunks runs on both with `@both_blob_stores`; `env.blob_data()` and
`env.blob_files()` then show what the store holds (S3 keys below the prefix, or files below blob_dir)."""

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest

BLOB_BACKENDS = ("local", "s3")
both_blob_stores = pytest.mark.parametrize("blob_backend", BLOB_BACKENDS, indirect=True)

S3_PREFIX = "ql/"
# Dummy credentials for the loopback store, given to boto3 the standard way (environment).
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "quietline-test",
    "AWS_SECRET_ACCESS_KEY": "quietline-test-secret-" + "0" * 16,
    "AWS_DEFAULT_REGION": "us-east-1",
}
_MOTO_SERVER = Path(sys.executable).parent / "moto_server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class ObjectStore:
    """A running S3-compatible endpoint."""

    url: str
    process: subprocess.Popen

    @cached_property
    def _client(self):
        import boto3

        return boto3.session.Session(
            aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
        ).client("s3", endpoint_url=self.url)

    def client(self):
        """The tests' own client (one per session: boto3 clients are thread-safe)."""
        return self._client


def start_object_store() -> ObjectStore:
    if not _MOTO_SERVER.exists():
        pytest.fail(f"{_MOTO_SERVER} is missing: install the test extra (moto[server])", pytrace=False)
    for _attempt in range(3):  # the port is free when chosen; another process could take it first
        port = _free_port()
        process = subprocess.Popen(
            [str(_MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if _listening(port):
                return ObjectStore(f"http://127.0.0.1:{port}", process)
            time.sleep(0.05)
        process.kill()
        process.wait()
    pytest.fail("moto_server did not start on a loopback port", pytrace=False)


@pytest.fixture(scope="session")
def object_store() -> Iterator[ObjectStore]:
    store = start_object_store()
    try:
        yield store
    finally:
        store.process.terminate()
        try:
            store.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            store.process.kill()
            store.process.wait()


@dataclass
class Bucket:
    store: ObjectStore
    name: str
    prefix: str = S3_PREFIX

    def keys(self) -> list[str]:
        client = self.store.client()
        found = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.name):
            found += [item["Key"] for item in page.get("Contents", [])]
        return sorted(found)

    def objects(self) -> dict[str, bytes]:
        """Every object in the bucket by key, as env.blob_data() shows files."""
        client = self.store.client()
        return {key: client.get_object(Bucket=self.name, Key=key)["Body"].read() for key in self.keys()}

    def settings(self) -> dict:
        return {"blob_backend": "s3", "s3_endpoint_url": self.store.url, "s3_bucket": self.name, "s3_prefix": self.prefix}

    def empty_and_remove(self) -> None:
        client = self.store.client()
        for key in self.keys():
            client.delete_object(Bucket=self.name, Key=key)
        client.delete_bucket(Bucket=self.name)


@pytest.fixture
def s3_credentials(monkeypatch) -> dict:
    """The standard AWS environment, and no config file of the machine's."""
    for name, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return dict(S3_CREDENTIALS)


@pytest.fixture
def bucket(request, s3_credentials) -> Iterator[Bucket]:
    """An empty bucket of the test's own on the session's object store."""
    store = request.getfixturevalue("object_store")
    made = Bucket(store, f"ql-test-{secrets.token_hex(6)}")
    store.client().create_bucket(Bucket=made.name)
    try:
        yield made
    finally:
        made.empty_and_remove()


@pytest.fixture
def blob_backend(request) -> str:
    """"local" unless a test is parametrized with both_blob_stores."""
    return getattr(request, "param", "local")


@pytest.fixture
def blob_settings(request, blob_backend, env) -> Iterator[dict]:
    """Settings for the test's blob store; with s3, env.blob_data() reads the bucket."""
    if blob_backend == "local":
        yield {}
        return
    made = request.getfixturevalue("bucket")
    env.blob_reader = made.objects
    yield made.settings()
    # Every chunk went to the bucket: nothing but the (anonymous) spool folder is local.
    leftovers = [str(p.relative_to(env.blob_dir)) for p in env.blob_dir.rglob("*") if p != env.blob_dir / "tmp"]
    assert not leftovers, f"the s3 store left files on the local disk: {leftovers}"
