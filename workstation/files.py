"""Small file-system helpers shared by the workstation and sync: atomic writes and days."""

import os
import secrets
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterator


def today() -> str:
    """The current day in UTC: the only time Quietline records."""
    return datetime.now(timezone.utc).date().isoformat()


def fsync_dir(directory: Path) -> None:
    """Make a rename inside `directory` durable (a no-op where the OS cannot open directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_path(target: Path, suffix: str = ".tmp") -> Path:
    """A hidden, unique name beside `target`, on the same file system so rename is atomic."""
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}{suffix}")


@contextmanager
def atomic_writer(target: Path, *, mode: int = 0o600, overwrite: bool = True) -> Iterator[BinaryIO]:
    """Write to a temporary file, fsync it, then rename it over `target`.

    Readers see the old file or the whole new one, never a part. On any error the
    temporary file is removed and `target` is untouched."""
    target = Path(target)
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(17, "file exists; refusing to overwrite it", str(target))
    tmp = temp_path(target)
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w+b") as out:  # readable too, so a caller can check what it wrote
            yield out
            out.flush()
            os.fsync(out.fileno())
        if not overwrite and os.path.lexists(target):
            raise FileExistsError(17, "file exists; refusing to overwrite it", str(target))
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(target.parent)


def write_atomic(target: Path, data: bytes, *, mode: int = 0o600, overwrite: bool = True) -> None:
    with atomic_writer(target, mode=mode, overwrite=overwrite) as out:
        out.write(data)
