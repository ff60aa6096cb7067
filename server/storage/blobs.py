"""Attachment chunk storage. Chunks are ciphertext the server cannot open. `BlobStore` is
the whole interface the server uses; `LocalBlobStore` (a folder on this machine) is the
default, `server/storage/s3.py` the S3-compatible object store for several app servers,
and `open_blob_store` picks one from the settings.

Either way a reader sees a chunk whole or not at all, chunks are removed only after the
transaction that forgets them commits, and a chunk's name holds nothing but its upload id
and index."""

import os
import re
import secrets
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from ..settings import Settings

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def check_upload_id(upload_id: str) -> str:
    if not isinstance(upload_id, str) or not UPLOAD_ID.match(upload_id):
        raise ValueError("upload ids are 32 lowercase hex characters")
    return upload_id


def check_index(index: int) -> int:
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError("chunk index must be a non-negative integer")
    return index


class ChunkMissing(LookupError):
    """A chunk that should be stored is not (deleted meanwhile, or never written)."""


class BlobStoreUnavailable(RuntimeError):
    """The store could not be reached or refused the operation (after its own retries)."""


class StagedChunk(ABC):
    """A chunk prepared but not yet visible; `commit` makes it the chunk, whole, in one step
    (the caller does this while it holds the upload's row, so a filed upload never changes);
    `discard` drops it. Exactly one of the two is called."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def discard(self) -> None: ...


class BlobStore(ABC):
    """What the server does with chunks: write one atomically (stage, then commit), read an
    upload's chunks in order (inbound bundles), delete an upload's chunks (after the commit
    that forgets them), list the uploads that have chunks (the stray sweep), and give a local
    temporary file for building or receiving a bundle."""

    @abstractmethod
    def check(self) -> None:
        """At startup: raise RuntimeError with a readable reason if the store is not usable."""

    @abstractmethod
    def stage_chunk(self, upload_id: str, index: int, data: bytes) -> StagedChunk: ...

    def put_chunk(self, upload_id: str, index: int, data: bytes) -> None:
        """Stage and commit at once (replacing any earlier copy)."""
        self.stage_chunk(upload_id, index, data).commit()

    @abstractmethod
    def read_chunks(self, upload_id: str, count: int) -> Iterator[bytes]:
        """Chunks 0..count-1 of an upload, one at a time; ChunkMissing if one is absent."""

    @abstractmethod
    def delete_upload(self, upload_id: str) -> None:
        """Remove every chunk of an upload; removing an absent upload is not an error."""

    @abstractmethod
    def upload_ids(self) -> list[str]:
        """Every upload with something stored under its name, sorted (locally that includes
        the empty folder a discarded chunk can leave, which the sweep then removes)."""

    @abstractmethod
    def spool(self) -> BinaryIO:
        """An anonymous temporary file on this machine for building or receiving a bundle; it
        vanishes when closed (or if the process dies)."""

    def remove_stale_temporary(self, older_than_seconds: float) -> int:
        """Remove staged chunks a killed process left half-written or never committed (none
        is ever read); returns how many. Only those older than any chunk write takes, so a
        worker's chunk in flight is never touched."""
        return 0


class _LocalStaged(StagedChunk):
    def __init__(self, temp: Path, final: Path):
        self._temp, self._final = temp, final

    def commit(self) -> None:
        os.replace(self._temp, self._final)
        _fsync_dir(self._final.parent)

    def discard(self) -> None:
        self._temp.unlink(missing_ok=True)


class LocalBlobStore(BlobStore):
    """<root>/uploads/<id[:2]>/<id>/<index>.chunk, temporary files in <root>/tmp. A chunk is
    written to a temporary file, flushed to disk, then renamed into place."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.uploads = self.root / "uploads"
        self.tmp = self.root / "tmp"
        for path in (self.root, self.uploads, self.tmp):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def check(self) -> None:
        for path in (self.uploads, self.tmp):
            if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
                raise RuntimeError(f"blob folder {path} is not a writable folder")

    def _dir(self, upload_id: str) -> Path:
        upload_id = check_upload_id(upload_id)
        return self.uploads / upload_id[:2] / upload_id

    def _path(self, upload_id: str, index: int) -> Path:
        return self._dir(upload_id) / f"{check_index(index):06d}.chunk"

    def stage_chunk(self, upload_id: str, index: int, data: bytes) -> StagedChunk:
        final = self._path(upload_id, index)
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = final.parent / f".{index:06d}.{secrets.token_hex(8)}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return _LocalStaged(temp, final)

    def read_chunks(self, upload_id: str, count: int) -> Iterator[bytes]:
        for index in range(count):
            try:
                data = self._path(upload_id, index).read_bytes()
            except FileNotFoundError:
                raise ChunkMissing(index) from None
            yield data

    def delete_upload(self, upload_id: str) -> None:
        shutil.rmtree(self._dir(upload_id), ignore_errors=True)

    def upload_ids(self) -> list[str]:
        return sorted(
            path.name
            for prefix in self.uploads.iterdir()
            if prefix.is_dir()
            for path in prefix.iterdir()
            if path.is_dir() and UPLOAD_ID.match(path.name)
        )

    def spool(self) -> BinaryIO:
        return tempfile.TemporaryFile(dir=self.tmp)

    def remove_stale_temporary(self, older_than_seconds: float) -> int:
        cutoff = time.time() - older_than_seconds
        removed = 0
        for temp in self.uploads.glob("*/*/.*.tmp"):
            try:
                if temp.stat().st_mtime < cutoff:
                    temp.unlink()
                    removed += 1
            except FileNotFoundError:
                pass  # committed or discarded meanwhile
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_blob_store(settings: "Settings") -> BlobStore:
    """The store the settings name: `blob_backend` local (under `blob_dir`) or s3 (bucket
    `s3_bucket` under `s3_prefix`, spools under `blob_dir`/tmp)."""
    if settings.blob_backend == "s3":
        from .s3 import S3BlobStore  # boto3 is imported only by deployments that use it

        return S3BlobStore(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            spool_dir=settings.blob_dir / "tmp",
            max_attempts=settings.s3_max_attempts,
        )
    return LocalBlobStore(settings.blob_dir)
