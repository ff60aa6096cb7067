"""Resumable attachments: everything an interrupted upload needs, derived again from the case
key and the file itself, so nothing is stored on the device (docs/PROTOCOL.md, "Resumable
attachments").

    file_hash    = BLAKE2b-32(every byte of the file, key="quietline/file/v1")   (a stream)
    upload_root  = crypto_kdf_derive_from_key(32, 4, "QLcase01", root)
    resume       = BLAKE2b-32("quietline/upload-resume/v1" || file_hash, key=upload_root)
    stream_key   = BLAKE2b-32("quietline/upload-key/v1" || file_hash, key=upload_root)
    resume_index = hex(BLAKE2b-16(resume, key="quietline/upload-resume-index/v1"))

The server is sent `resume` and keeps only `resume_index`; `stream_key` never leaves the page.
"""

from collections.abc import Iterable

from nacl.bindings import crypto_generichash_blake2b_salt_personal as _blake2b
from nacl.hashlib import blake2b as _Blake2bStream

from .errors import ProtocolError
from .kdf import KDF_CONTEXT, ROOT_LABEL, kdf_derive

FILE_LABEL = b"quietline/file/v1"
RESUME_LABEL = b"quietline/upload-resume/v1"
STREAM_KEY_LABEL = b"quietline/upload-key/v1"
RESUME_INDEX_LABEL = b"quietline/upload-resume-index/v1"
UPLOAD_ID = 4  # crypto_kdf subkey id, after lookup (1), reply (2) and signing (3)
RESUME_BYTES = 32


def _check(value: bytes, length: int, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != length:
        raise ProtocolError("bad_length", f"{what} has {length} bytes")
    return bytes(value)


def upload_root(case_key: bytes) -> bytes:
    """The case's root for uploads: crypto_kdf subkey 4 of the case root."""
    _check(case_key, 16, "a case key")
    root = _blake2b(case_key, digest_size=32, key=ROOT_LABEL)
    return kdf_derive(root, UPLOAD_ID, KDF_CONTEXT)


class FileHasher:
    """Keyed BLAKE2b-32 over a file read piece by piece (libsodium's generichash init/update/final)."""

    def __init__(self) -> None:
        self._state = _Blake2bStream(digest_size=32, key=FILE_LABEL)

    def update(self, piece: bytes) -> None:
        self._state.update(bytes(piece))

    def digest(self) -> bytes:
        return self._state.digest()


def file_hash(pieces: Iterable[bytes]) -> bytes:
    """file_hash over the file's bytes given as consecutive pieces of any sizes."""
    hasher = FileHasher()
    for piece in pieces:
        hasher.update(piece)
    return hasher.digest()


def resume(root: bytes, digest: bytes) -> bytes:
    """The handle the page sends to find its unfiled upload again (`root` = upload_root)."""
    _check(root, 32, "upload_root")
    _check(digest, 32, "a file hash")
    return _blake2b(RESUME_LABEL + digest, digest_size=32, key=root)


def stream_key(root: bytes, digest: bytes) -> bytes:
    """The attachment stream's key; it goes only into the encrypted descriptor."""
    _check(root, 32, "upload_root")
    _check(digest, 32, "a file hash")
    return _blake2b(STREAM_KEY_LABEL + digest, digest_size=32, key=root)


def resume_index(handle: bytes) -> str:
    """What the server stores for `resume` (32 hex characters): a one-way hash of it."""
    _check(handle, RESUME_BYTES, "a resume handle")
    return _blake2b(handle, digest_size=16, key=RESUME_INDEX_LABEL).hex()


def upload_keys(case_key: bytes, digest: bytes) -> tuple[bytes, bytes]:
    """(resume, stream_key) for one file of one case."""
    root = upload_root(case_key)
    return resume(root, digest), stream_key(root, digest)
