"""Attachment chunk storage. Chunks are ciphertext the server cannot open; each is written
to a temporary file, flushed to disk and renamed into place, so a reader sees a whole
chunk or none."""

import os
import re
import secrets
import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO

_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def _check_upload_id(upload_id: str) -> str:
    if not isinstance(upload_id, str) or not _UPLOAD_ID.match(upload_id):
        raise ValueError("upload ids are 32 lowercase hex characters")
    return upload_id


class StagedChunk(ABC):
    """A chunk written and flushed but not yet visible; `commit` makes it the chunk."""

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def discard(self) -> None: ...


class BlobStore(ABC):
    @abstractmethod
    def stage_chunk(self, upload_id: str, index: int, data: bytes) -> StagedChunk: ...

    def put_chunk(self, upload_id: str, index: int, data: bytes) -> None:
        """Write, fsync and atomically rename into place (replacing any earlier copy)."""
        self.stage_chunk(upload_id, index, data).commit()

    @abstractmethod
    def open_chunk(self, upload_id: str, index: int) -> BinaryIO: ...

    @abstractmethod
    def delete_upload(self, upload_id: str) -> None:
        """Remove every chunk of an upload; removing an absent upload is not an error."""

    @abstractmethod
    def upload_ids(self) -> list[str]:
        """Every upload that has chunk files stored."""

    @abstractmethod
    def spool(self) -> BinaryIO:
        """An anonymous temporary file for building or receiving a bundle; it vanishes
        when closed (or if the process dies)."""


class _LocalStaged(StagedChunk):
    def __init__(self, temp: Path, final: Path):
        self._temp, self._final = temp, final

    def commit(self) -> None:
        os.replace(self._temp, self._final)
        _fsync_dir(self._final.parent)

    def discard(self) -> None:
        self._temp.unlink(missing_ok=True)


class LocalBlobStore(BlobStore):
    """<root>/uploads/<id[:2]>/<id>/<index>.chunk, temporary files in <root>/tmp."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.uploads = self.root / "uploads"
        self.tmp = self.root / "tmp"
        for path in (self.root, self.uploads, self.tmp):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _dir(self, upload_id: str) -> Path:
        upload_id = _check_upload_id(upload_id)
        return self.uploads / upload_id[:2] / upload_id

    def _path(self, upload_id: str, index: int) -> Path:
        if not isinstance(index, int) or index < 0:
            raise ValueError("chunk index must be a non-negative integer")
        return self._dir(upload_id) / f"{index:06d}.chunk"

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

    def open_chunk(self, upload_id: str, index: int) -> BinaryIO:
        return open(self._path(upload_id, index), "rb")

    def delete_upload(self, upload_id: str) -> None:
        shutil.rmtree(self._dir(upload_id), ignore_errors=True)

    def upload_ids(self) -> list[str]:
        return sorted(
            path.name
            for prefix in self.uploads.iterdir()
            if prefix.is_dir()
            for path in prefix.iterdir()
            if path.is_dir() and _UPLOAD_ID.match(path.name)
        )

    def spool(self) -> BinaryIO:
        return tempfile.TemporaryFile(dir=self.tmp)

    def files(self) -> list[Path]:
        """Every stored chunk file (for tests and audits)."""
        return sorted(p for p in self.uploads.rglob("*") if p.is_file())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
