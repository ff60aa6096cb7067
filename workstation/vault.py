"""The workstation's encrypted vault: one directory, nothing in it readable without the
passphrase.

    vault.key     JSON {v, kdf: {alg, opslimit, memlimit}, salt, nonce, sealed}: a random
                  32-byte master key sealed with crypto_secretbox under a key Argon2id
                  derives from the passphrase with the parameters stored beside it.
    vault.db      SQLite (WAL). One table of records: (rid, kind, grp, data). `rid` and
                  `grp` are keyed BLAKE2b of the natural key (a case id, an upload id), so
                  not even a case id is in clear; `kind` is the record type; `data` is
                  secretbox-encrypted JSON that names its own kind and rid, so rows cannot
                  be swapped. The desk's private keys are one of these records.
    attachments/  one file per imported attachment: crypto_secretstream under a key
                  derived from the master key, every chunk bound to the file's id.

Subkeys come from the master key with crypto_kdf (crypto.kdf.kdf_derive), one per use.
"""

import json
import os
import secrets
import shutil
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import nacl.pwhash.argon2id as argon2id
from nacl.bindings import (
    crypto_generichash_blake2b_salt_personal as _blake2b,
    crypto_secretbox,
    crypto_secretbox_open,
    crypto_secretstream_xchacha20poly1305_ABYTES as STREAM_ABYTES,
    crypto_secretstream_xchacha20poly1305_HEADERBYTES as STREAM_HEADER,
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL as TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE as TAG_MESSAGE,
)
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from crypto.desk import DeskKeys
from crypto.encoding import b64decode, b64encode, json_bytes
from crypto.kdf import kdf_derive

from .errors import WorkstationError
from .files import fsync_dir, temp_path, write_atomic

VERSION = 1
KEY_FILE = "vault.key"
DB_FILE = "vault.db"
ATTACHMENT_DIR = "attachments"
KDF_ALG = "argon2id13"
KDF_ENV = "QUIETLINE_VAULT_KDF"
# Argon2id profiles (libsodium's). MODERATE is the default for a real vault; INTERACTIVE
# is for tests and the development vault only.
KDF_PROFILES = {
    "interactive": (argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE),
    "moderate": (argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE),
    "sensitive": (argon2id.OPSLIMIT_SENSITIVE, argon2id.MEMLIMIT_SENSITIVE),
}
DEFAULT_KDF = "moderate"
MIN_PASSPHRASE = 10

KDF_CONTEXT = b"QLvault1"
RECORD_KEY_ID, ATTACHMENT_KEY_ID, INDEX_KEY_ID, AUDIT_KEY_ID = 1, 2, 3, 4
DESK_KIND = "desk"

FILE_MAGIC = b"QLVA"
FILE_CHUNK = 256 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    rid  BLOB PRIMARY KEY,
    kind TEXT NOT NULL,
    grp  BLOB,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_kind_grp ON records (kind, grp);
"""


class VaultError(WorkstationError):
    pass


def kdf_profile(name: str | None = None) -> str:
    """The Argon2id profile for a new vault: the argument, else $QUIETLINE_VAULT_KDF, else moderate."""
    name = (name or os.environ.get(KDF_ENV) or DEFAULT_KDF).lower()
    if name not in KDF_PROFILES:
        raise VaultError(f"unknown key-derivation profile {name!r} (use one of {', '.join(KDF_PROFILES)})")
    return name


def _derive_key(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return argon2id.kdf(32, passphrase.encode("utf-8"), salt, opslimit=opslimit, memlimit=memlimit)


def _desk_record(desk: DeskKeys) -> dict:
    return {
        "id": desk.id,
        "name": desk.name,
        "box_pk": b64encode(desk.box_public),
        "box_sk": b64encode(desk.box_secret),
        "sign_pk": b64encode(desk.sign_public),
        "sign_sk": b64encode(desk.sign_secret),
    }


def _desk_from_record(data: dict) -> DeskKeys:
    return DeskKeys(
        data["id"],
        data["name"],
        b64decode(data["box_pk"], length=32),
        b64decode(data["box_sk"], length=32),
        b64decode(data["sign_pk"], length=32),
        b64decode(data["sign_sk"], length=64),
    )


class Vault:
    """An open vault. Use `Vault.create` or `Vault.open`, and `close()` (or `with`)."""

    def __init__(self, path: Path, master: bytes, db: sqlite3.Connection):
        self.path = path
        self._db = db
        self._records = SecretBox(kdf_derive(master, RECORD_KEY_ID, KDF_CONTEXT))
        self._attachment_key = kdf_derive(master, ATTACHMENT_KEY_ID, KDF_CONTEXT)
        self._index_key = kdf_derive(master, INDEX_KEY_ID, KDF_CONTEXT)
        self.audit_key = kdf_derive(master, AUDIT_KEY_ID, KDF_CONTEXT)  # keys the audit log's hash chain
        self._depth = 0
        self._desk: DeskKeys | None = None

    # -- creating and opening -------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, passphrase: str, desk: DeskKeys, *, kdf: str | None = None) -> "Vault":
        """Create a vault holding `desk`'s keys. Built in a temporary sibling directory and
        renamed into place, so a crash leaves either no vault or a whole one."""
        path = Path(path)
        if len(passphrase) < MIN_PASSPHRASE:
            raise VaultError(f"the vault passphrase must have at least {MIN_PASSPHRASE} characters")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise VaultError(f"{path} already exists and is not an empty directory; not creating a vault there")
        opslimit, memlimit = KDF_PROFILES[kdf_profile(kdf)]
        path.parent.mkdir(parents=True, exist_ok=True)
        building = temp_path(path, ".creating")
        building.mkdir(mode=0o700)
        try:
            master = secrets.token_bytes(32)
            salt = secrets.token_bytes(argon2id.SALTBYTES)
            nonce = secrets.token_bytes(SecretBox.NONCE_SIZE)
            sealed = crypto_secretbox(master, nonce, _derive_key(passphrase, salt, opslimit, memlimit))
            (building / ATTACHMENT_DIR).mkdir(mode=0o700)
            vault = cls(path, master, _connect(building / DB_FILE))
            with vault.transaction():
                vault._db.execute("INSERT INTO meta (k, v) VALUES ('version', ?)", (str(VERSION),))
                vault.put(DESK_KIND, vault.rid(DESK_KIND), _desk_record(desk))
            vault.close()
            key_file = {
                "v": VERSION,
                "kdf": {"alg": KDF_ALG, "opslimit": opslimit, "memlimit": memlimit},
                "salt": b64encode(salt),
                "nonce": b64encode(nonce),
                "sealed": b64encode(sealed),
            }
            write_atomic(building / KEY_FILE, json_bytes(key_file))
            if path.exists():
                path.rmdir()
            os.rename(building, path)
            fsync_dir(path.parent)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return cls.open(path, passphrase)

    @classmethod
    def open(cls, path: Path, passphrase: str) -> "Vault":
        path = Path(path)
        key_path = path / KEY_FILE
        if not key_path.is_file():
            raise VaultError(f"no vault at {path} (create one with `quietline ws init`)")
        try:
            key_file = json.loads(key_path.read_bytes())
            if key_file.get("v") != VERSION:
                raise VaultError(f"vault version {key_file.get('v')!r} is not supported")
            kdf = key_file["kdf"]
            opslimit, memlimit = kdf["opslimit"], kdf["memlimit"]
            if (
                kdf.get("alg") != KDF_ALG
                or not isinstance(opslimit, int)
                or not isinstance(memlimit, int)
                or not argon2id.OPSLIMIT_MIN <= opslimit <= argon2id.OPSLIMIT_MAX
                or not argon2id.MEMLIMIT_MIN <= memlimit <= argon2id.MEMLIMIT_SENSITIVE
            ):
                raise VaultError(f"{key_path} has unsupported key-derivation parameters")
            salt = b64decode(key_file["salt"], length=argon2id.SALTBYTES)
            nonce = b64decode(key_file["nonce"], length=SecretBox.NONCE_SIZE)
            sealed = b64decode(key_file["sealed"])
        except VaultError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise VaultError(f"{key_path} is damaged and cannot be read") from exc
        try:
            master = crypto_secretbox_open(sealed, nonce, _derive_key(passphrase, salt, opslimit, memlimit))
        except CryptoError:
            raise VaultError(f"wrong passphrase for the vault at {path}", code="wrong_passphrase") from None
        if not (path / DB_FILE).is_file():
            raise VaultError(f"the vault at {path} has lost its database ({DB_FILE})")
        vault = cls(path, master, _connect(path / DB_FILE))
        try:
            row = vault._db.execute("SELECT v FROM meta WHERE k = 'version'").fetchone()
            if row is None or row[0] != str(VERSION):
                raise VaultError(f"the vault database at {path} has an unsupported version")
            desk = vault.get(DESK_KIND, vault.rid(DESK_KIND))
            if desk is None:
                raise VaultError(f"the vault at {path} holds no desk keys")
            vault._desk = _desk_from_record(desk)
        except BaseException:
            vault.close()
            raise
        return vault

    @property
    def desk(self) -> DeskKeys:
        assert self._desk is not None
        return self._desk

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> "Vault":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- records --------------------------------------------------------------------------

    def rid(self, kind: str, *parts: Any) -> bytes:
        """The opaque row id of a record: keyed BLAKE2b of its kind and natural key."""
        return _blake2b(json_bytes([kind, *parts]), digest_size=16, key=self._index_key)

    def case_group(self, case_id: str) -> bytes:
        """The opaque group shared by a case and everything that belongs to it."""
        return self.rid("case", case_id)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing. Nested use makes a savepoint: an inner failure undoes only the
        inner block if the caller catches it."""
        if self._depth == 0:
            self._db.execute("BEGIN IMMEDIATE")
            begin, commit, rollback = None, "COMMIT", "ROLLBACK"
        else:
            name = f"sp{self._depth}"
            begin, commit, rollback = f"SAVEPOINT {name}", f"RELEASE {name}", f"ROLLBACK TO {name}"
            self._db.execute(begin)
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            self._db.execute(rollback)
            if self._depth > 0:
                self._db.execute(commit)  # a savepoint stays open after ROLLBACK TO
            raise
        else:
            self._depth -= 1
            self._db.execute(commit)

    def put(self, kind: str, rid: bytes, data: dict, *, group: bytes | None = None) -> None:
        box = self._records.encrypt(json_bytes({"k": kind, "r": rid.hex(), "d": data}))
        self._db.execute(
            "INSERT INTO records (rid, kind, grp, data) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (rid) DO UPDATE SET kind = excluded.kind, grp = excluded.grp, data = excluded.data",
            (rid, kind, group, bytes(box)),
        )

    def delete(self, kind: str, rid: bytes) -> None:
        self._db.execute("DELETE FROM records WHERE rid = ? AND kind = ?", (rid, kind))

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def check_database(self) -> list[str]:
        """What is wrong with the database itself: SQLite's integrity check, then every record
        opened (each names its kind and place, so a damaged, altered or moved row shows)."""
        problems = [row[0] for row in self._db.execute("PRAGMA integrity_check").fetchall() if row[0] != "ok"]
        for rid, kind, data in self._db.execute("SELECT rid, kind, data FROM records").fetchall():
            try:
                self._open(kind, rid, data)
            except VaultError as exc:
                problems.append(f"a {kind} record: {exc.message}")
        return problems

    def attachment_files(self) -> tuple[list[bytes], list[Path]]:
        """The ids of the attachment files present, and any temporary files beside them."""
        folder = self.path / ATTACHMENT_DIR
        ids = [bytes.fromhex(p.stem) for p in folder.glob("*.qla")
               if len(p.stem) == 32 and all(c in "0123456789abcdef" for c in p.stem)]
        return ids, sorted(folder.glob(".*.tmp"))

    def get(self, kind: str, rid: bytes) -> dict | None:
        row = self._db.execute("SELECT data FROM records WHERE rid = ? AND kind = ?", (rid, kind)).fetchone()
        return None if row is None else self._open(kind, rid, row[0])

    def records(self, kind: str, *, group: bytes | None = None) -> list[tuple[bytes, dict]]:
        if group is None:
            rows = self._db.execute("SELECT rid, data FROM records WHERE kind = ?", (kind,))
        else:
            rows = self._db.execute("SELECT rid, data FROM records WHERE kind = ? AND grp = ?", (kind, group))
        return [(rid, self._open(kind, rid, data)) for rid, data in rows.fetchall()]

    def _open(self, kind: str, rid: bytes, data: bytes) -> dict:
        try:
            record = json.loads(self._records.decrypt(data))
        except (CryptoError, ValueError) as exc:
            raise VaultError("a vault record is damaged or was altered") from exc
        if record.get("k") != kind or record.get("r") != rid.hex():
            raise VaultError("a vault record was moved to another place in the database")
        return record["d"]

    # -- attachment files -----------------------------------------------------------------

    def _attachment_path(self, file_id: bytes) -> Path:
        return self.path / ATTACHMENT_DIR / f"{file_id.hex()}.qla"

    def has_attachment(self, file_id: bytes) -> bool:
        return self._attachment_path(file_id).is_file()

    def discard_attachment(self, file_id: bytes) -> None:
        self._attachment_path(file_id).unlink(missing_ok=True)

    def remove_stale_temp_files(self) -> None:
        """Temporary files left by an interrupted import hold only ciphertext; remove them."""
        for stale in (self.path / ATTACHMENT_DIR).glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def store_attachment(self, file_id: bytes, pieces: Iterable[bytes]) -> int:
        """Encrypt plaintext `pieces` (any sizes, in order) into the attachment file for
        `file_id`, chunk by chunk: temporary file, fsync, rename. Returns the byte count.
        If `pieces` raises, nothing is left behind."""
        target = self._attachment_path(file_id)
        tmp = temp_path(target)
        ad = FILE_MAGIC + bytes([VERSION]) + file_id
        state = crypto_secretstream_xchacha20poly1305_state()
        header = crypto_secretstream_xchacha20poly1305_init_push(state, self._attachment_key)
        total = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(FILE_MAGIC + bytes([VERSION]) + header)
                buffer = bytearray()
                for piece in pieces:
                    total += len(piece)
                    buffer += piece
                    # A full chunk is written only once more data follows it, so the last
                    # chunk (full or short) is always the one tagged FINAL.
                    while len(buffer) > FILE_CHUNK:
                        out.write(crypto_secretstream_xchacha20poly1305_push(state, bytes(buffer[:FILE_CHUNK]), ad, TAG_MESSAGE))
                        del buffer[:FILE_CHUNK]
                out.write(crypto_secretstream_xchacha20poly1305_push(state, bytes(buffer), ad, TAG_FINAL))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)
        return total

    def read_attachment(self, file_id: bytes) -> Iterator[bytes]:
        """The plaintext of a stored attachment, chunk by chunk, authenticated as it goes."""
        path = self._attachment_path(file_id)
        ad = FILE_MAGIC + bytes([VERSION]) + file_id
        damaged = VaultError(f"attachment file {path.name} is damaged or was altered")
        with open(path, "rb") as src:
            prefix = src.read(len(FILE_MAGIC) + 1 + STREAM_HEADER)
            if len(prefix) != len(FILE_MAGIC) + 1 + STREAM_HEADER or prefix[:4] != FILE_MAGIC or prefix[4] != VERSION:
                raise damaged
            state = crypto_secretstream_xchacha20poly1305_state()
            crypto_secretstream_xchacha20poly1305_init_pull(state, prefix[5:], self._attachment_key)
            while True:
                chunk = src.read(FILE_CHUNK + STREAM_ABYTES)
                if not chunk:
                    raise damaged  # ended before the FINAL chunk
                try:
                    plain, tag = crypto_secretstream_xchacha20poly1305_pull(state, chunk, ad)
                except CryptoError as exc:
                    raise damaged from exc
                if tag == TAG_FINAL:
                    if src.read(1):
                        raise damaged
                    yield plain
                    return
                if len(chunk) != FILE_CHUNK + STREAM_ABYTES:
                    raise damaged
                yield plain


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)  # transactions are explicit
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA secure_delete = ON")
    db.executescript(_SCHEMA)
    os.chmod(path, 0o600)
    return db
