"""Chunks in an S3-compatible object store (AWS S3, MinIO, Ceph RGW), for app servers that
share no disk. Object key: <prefix><upload id>/<index, 6 digits>; nothing else is sent
with a chunk (no metadata, no tags). Each chunk is one PUT of 262,161 bytes, which the
store makes visible whole or not at all, and a GET sees the latest PUT (the strong
read-after-write consistency these stores give).

Credentials come from boto3's standard chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
AWS_PROFILE and ~/.aws, an instance role) and are never read or logged here. Retries are
botocore's ("standard" mode: transient errors and throttling, with backoff); once they
are spent an operation raises BlobStoreUnavailable."""

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .blobs import UPLOAD_ID, BlobStore, BlobStoreUnavailable, ChunkMissing, StagedChunk, check_index, check_upload_id

PREFIX = re.compile(r"^(?:(?!\.+/)[A-Za-z0-9._-]+/)*$")  # "" or "name/", "a/b/" (no "." or ".."): the keys stay ours
_MISSING = {"NoSuchKey", "404", "NotFound"}


def client_config(max_attempts: int, *, path_style: bool) -> Config:
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},  # first try included
        connect_timeout=5,
        read_timeout=30,
        max_pool_connections=32,  # request threads share one client
        s3={"addressing_style": "path" if path_style else "auto"},
        # The chunk is AEAD ciphertext (the workstation detects any change) and TLS guards
        # the transfer; the newer flexible-checksum headers are refused by some
        # S3-compatible stores, so they are sent only where an operation requires them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


@contextmanager
def _store_call() -> Iterator[None]:
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        # The type only: a message could name keys or the endpoint, never anything else,
        # but there is no reason to pass it on.
        raise BlobStoreUnavailable(f"object store: {type(exc).__name__} {_code(exc)}".strip()) from None


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


class _S3Staged(StagedChunk):
    def __init__(self, store: "S3BlobStore", key: str, data: bytes):
        self._store, self._key, self._data = store, key, data

    def commit(self) -> None:
        with _store_call():
            self._store.client.put_object(Bucket=self._store.bucket, Key=self._key, Body=self._data)
        self._data = b""

    def discard(self) -> None:
        self._data = b""


class S3BlobStore(BlobStore):
    delete_batch = 1000  # the most keys one DeleteObjects request takes

    def __init__(self, bucket: str, prefix: str = "", *, spool_dir: Path, endpoint_url: str | None = None,
                 max_attempts: int = 5, page_size: int = 1000, client=None):
        if not bucket:
            raise ValueError("s3_bucket is required for the s3 blob backend")
        if not PREFIX.match(prefix):
            raise ValueError('s3_prefix is "" or folder names each ending in "/" (letters, digits, . _ -)')
        self.bucket = bucket
        self.prefix = prefix
        self.page_size = page_size
        # Path-style addressing for a named endpoint (MinIO, Ceph RGW and most others expect
        # it); AWS's own endpoints choose for themselves.
        self.client = client or boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, config=client_config(max_attempts, path_style=endpoint_url is not None)
        )
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise RuntimeError(
                f"object store bucket {self.bucket!r} is not usable: {type(exc).__name__} {_code(exc)}".rstrip()
            ) from None

    def _upload_prefix(self, upload_id: str) -> str:
        return f"{self.prefix}{check_upload_id(upload_id)}/"

    def key(self, upload_id: str, index: int) -> str:
        return f"{self._upload_prefix(upload_id)}{check_index(index):06d}"

    def stage_chunk(self, upload_id: str, index: int, data: bytes) -> StagedChunk:
        # Nothing to stage: the single PUT at commit is what makes the chunk visible whole.
        return _S3Staged(self, self.key(upload_id, index), bytes(data))

    def read_chunks(self, upload_id: str, count: int) -> Iterator[bytes]:
        for index in range(count):
            key = self.key(upload_id, index)
            with _store_call():
                try:
                    response = self.client.get_object(Bucket=self.bucket, Key=key)
                except ClientError as exc:
                    if _code(exc) in _MISSING:
                        raise ChunkMissing(index) from None
                    raise
                body = response["Body"]
                try:
                    data = body.read()
                finally:
                    body.close()
            yield data

    def _keys(self, prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": self.page_size}
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"]

    def delete_upload(self, upload_id: str) -> None:
        with _store_call():
            keys = list(self._keys(self._upload_prefix(upload_id)))
            for start in range(0, len(keys), self.delete_batch):
                batch = [{"Key": key} for key in keys[start : start + self.delete_batch]]
                response = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                if response.get("Errors"):
                    raise BlobStoreUnavailable("object store: some chunks could not be deleted")

    def upload_ids(self) -> list[str]:
        found = []
        with _store_call():
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, Delimiter="/", PaginationConfig={"PageSize": self.page_size}
            )
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    name = common["Prefix"][len(self.prefix) :].rstrip("/")
                    if UPLOAD_ID.match(name):
                        found.append(name)
        return sorted(found)

    def spool(self) -> BinaryIO:
        return tempfile.TemporaryFile(dir=self.spool_dir)
