"""Files the workstation writes for others (outbound bundles, referrals, CSV lists), so that a
command killed at any moment leaves neither a file the vault does not record nor a record
whose file never appears.

    begin(vault, target)   notes {target, temp name, ready: false} in the vault and commits,
                           before a byte is written; the caller writes the temporary file
                           and flushes it to disk;
    output.ready()         inside the caller's transaction that records the export (its
                           casework or bundle record, its audit entry): the note turns ready
                           in the same commit;
    output.finish()        after that commit: the temporary file takes its name (rename,
                           then the folder flushed) and the note goes.

`recover`, run whenever a command opens the vault, completes what a killed command left: a
note not ready means the export was never recorded, so its temporary file is removed; a
ready note means it was, so the file takes its name if it has not yet, and the note is kept
as `named` so that running the killed command again says it is done (`take_finished`)
instead of refusing to overwrite its file. A target that some other file took meanwhile is
never overwritten: the note stays and the problem is named.

Record kind (see vault.py): output {target, temp, what, ready, named?}
"""

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .files import fsync_dir, temp_path
from .vault import Vault

OUTPUT = "output"


@dataclass(frozen=True)
class Output:
    vault: Vault
    rid: bytes
    target: Path
    temp: Path
    what: str

    def _note(self, ready: bool) -> dict:
        return {"target": str(self.target), "temp": str(self.temp), "what": self.what, "ready": ready}

    @contextmanager
    def writer(self, mode: int = 0o600) -> Iterator[BinaryIO]:
        """The temporary file, new, flushed to disk when the block ends."""
        fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())

    def ready(self) -> None:
        """In the transaction that records the export."""
        if not self.vault.in_transaction:
            raise RuntimeError("an output turns ready only inside the transaction that records it")
        self.vault.put(OUTPUT, self.rid, self._note(True))

    def finish(self) -> None:
        """After the commit: the file takes its name."""
        _give_name(self.temp, self.target)
        with self.vault.transaction():
            self.vault.delete(OUTPUT, self.rid)

    def abandon(self) -> None:
        """Before `ready` (the export failed or was refused): nothing stays."""
        self.temp.unlink(missing_ok=True)
        with self.vault.transaction():
            self.vault.delete(OUTPUT, self.rid)


def begin(vault: Vault, target: Path, what: str) -> Output:
    """Note the export in the vault before anything is written. Refuses a target that exists."""
    if vault.in_transaction:
        raise RuntimeError("an output is begun outside any transaction: its note must commit first")
    target = Path(os.path.abspath(target))
    if os.path.lexists(target):
        raise FileExistsError(17, "file exists; refusing to overwrite it", str(target))
    output = Output(vault, vault.rid(OUTPUT, secrets.token_hex(16)), target, temp_path(target), what)
    with vault.transaction():
        for rid, note in vault.records(OUTPUT):
            if note.get("named") and note["target"] == str(target):
                vault.delete(OUTPUT, rid)  # its file is gone since: that story is over
        vault.put(OUTPUT, output.rid, output._note(False))
    return output


def write_recorded(vault: Vault, target: Path, what: str, write: Callable[[BinaryIO], None],
                   record: Callable[[], None], *, mode: int = 0o600) -> Path:
    """The whole sequence for a file whose content is known before it is recorded:
    `write(sink)` fills it, `record()` (inside the recording transaction) logs it."""
    output = begin(vault, target, what)
    try:
        with output.writer(mode) as sink:
            write(sink)
        with vault.transaction():
            record()
            output.ready()
    except BaseException:
        output.abandon()
        raise
    output.finish()
    return output.target


def _give_name(temp: Path, target: Path) -> None:
    if os.path.lexists(target):
        raise FileExistsError(17, "file exists; refusing to overwrite it", str(target))
    os.replace(temp, target)
    fsync_dir(target.parent)


@dataclass(frozen=True)
class Recovered:
    finished: list[Path]  # recorded exports whose file took its name only now
    removed: list[Path]  # temporary files of exports never recorded
    stuck: list[str]  # notes that cannot be settled (their folder is missing, a file took the name)


def recover(vault: Vault) -> Recovered:
    finished, removed, stuck = [], [], []
    for rid, note in vault.records(OUTPUT):
        target, temp = Path(note["target"]), Path(note["temp"])
        if note.get("named"):
            continue
        if not target.parent.is_dir():
            stuck.append(f"{note['what']} to {target}: its folder is not there (removable media not mounted?)")
            continue
        if not note["ready"]:
            if temp.exists():
                temp.unlink()
                removed.append(temp)
        elif os.path.lexists(temp):
            try:
                _give_name(temp, target)
            except FileExistsError:
                stuck.append(f"{note['what']} to {target}: another file took its name; the export is kept as {temp}")
                continue
            finished.append(target)
        elif os.path.lexists(target):
            finished.append(target)  # named before the kill; only the note was left
        else:
            stuck.append(f"{note['what']} to {target}: the file was recorded but is gone")
            continue
        with vault.transaction():
            if note["ready"]:
                vault.put(OUTPUT, rid, {**note, "named": True})
            else:
                vault.delete(OUTPUT, rid)
    return Recovered(finished, removed, stuck)


def take_finished(vault: Vault, target: Path) -> bool:
    """True if `target` is the file of an export that was killed after it was recorded and
    that `recover` completed: the same command run again has nothing left to do. Forgets
    the note, so a later command with this target is a new export."""
    target = Path(os.path.abspath(target))
    done = False
    for rid, note in vault.records(OUTPUT):
        if note.get("named") and note["target"] == str(target):
            with vault.transaction():
                vault.delete(OUTPUT, rid)
            done = done or os.path.lexists(target)
    return done


def pending(vault: Vault) -> list[dict]:
    """Notes of exports not yet settled (completed ones kept for `take_finished` excluded)."""
    return [note for _, note in vault.records(OUTPUT) if not note.get("named")]
