"""Transfer bundles: the one file carried across the air gap in each direction
(docs/PROTOCOL.md, "Transfer bundles").

    magic "QLBUNDLE" | version u8 | direction u8 ('I' or 'O') | header length u32 BE
    | header JSON | blobs, in order, with the sizes the header lists
    | BLAKE2b-256 of everything before | (outbound only) Ed25519 signature of that digest

Readers check the digest (and signature) over the whole file before trusting any blob.
"""

import hashlib
import re
import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator

from . import signing
from .encoding import is_int, json_bytes, json_load
from .errors import ProtocolError
from .manifest import DeskPublic, Manifest

MAGIC = b"QLBUNDLE"
VERSION = 1
INBOUND, OUTBOUND = "I", "O"
PREFIX = struct.Struct(">8sBBI")
MAX_HEADER = 16 * 1024 * 1024
MAX_BLOBS = 1_000_000
DIGEST_BYTES = 32
BUNDLE_ID = re.compile(r"^[0-9a-f]{32}$")  # used with fullmatch (no trailing newline)
_READ = 1024 * 1024


def _digest():
    return hashlib.blake2b(digest_size=DIGEST_BYTES, key=b"quietline/bundle/v1")


def write_bundle(
    out: BinaryIO,
    direction: str,
    header: dict,
    blobs: Iterable[tuple[int, Iterable[bytes]]],
    sign_secret: bytes | None = None,
) -> None:
    """Stream a bundle to `out`. Each blob is (size, chunks); the sizes go into the header first."""
    blobs = list(blobs)
    if (direction == OUTBOUND) != (sign_secret is not None):
        raise ValueError("outbound bundles are signed, inbound bundles are not")
    header = dict(header, blobs=[size for size, _ in blobs])
    header_bytes = json_bytes(header)
    digest = _digest()

    def emit(data: bytes) -> None:
        digest.update(data)
        out.write(data)

    emit(PREFIX.pack(MAGIC, VERSION, ord(direction), len(header_bytes)))
    emit(header_bytes)
    for size, chunks in blobs:
        written = 0
        for chunk in chunks:
            written += len(chunk)
            emit(chunk)
        if written != size:
            raise ValueError(f"blob announced {size} bytes but wrote {written}")
    final = digest.digest()
    out.write(final)
    if sign_secret is not None:
        out.write(signing.sign("bundle", final, sign_secret))


@dataclass(frozen=True)
class Bundle:
    direction: str
    header: dict
    blob_offsets: tuple[int, ...]
    blob_sizes: tuple[int, ...]
    signer: DeskPublic | None

    def read_blob(self, fileobj: BinaryIO, index: int) -> bytes:
        return b"".join(self.iter_blob(fileobj, index))

    def iter_blob(self, fileobj: BinaryIO, index: int, chunk: int = _READ) -> Iterator[bytes]:
        if not 0 <= index < len(self.blob_sizes):
            raise ProtocolError("bad_bundle", f"bundle has no blob {index}")
        fileobj.seek(self.blob_offsets[index])
        left = self.blob_sizes[index]
        while left:
            data = fileobj.read(min(chunk, left))
            if not data:
                raise ProtocolError("truncated", "bundle ended inside a blob")
            left -= len(data)
            yield data


def read_bundle(fileobj: BinaryIO, direction: str, manifest: Manifest | None = None) -> Bundle:
    """Parse and authenticate a whole bundle file (seekable). Outbound bundles need the
    manifest: the signature must come from the desk the header names."""
    fileobj.seek(0)
    prefix = fileobj.read(PREFIX.size)
    if len(prefix) != PREFIX.size:
        raise ProtocolError("bad_bundle", "file is too short to be a bundle")
    magic, version, raw_direction, header_length = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise ProtocolError("bad_bundle", "not a Quietline bundle")
    if version != VERSION:
        raise ProtocolError("unsupported_version", f"bundle version {version} is not supported")
    if chr(raw_direction) != direction:
        raise ProtocolError("wrong_direction", f"expected an {'inbound' if direction == INBOUND else 'outbound'} bundle")
    if header_length > MAX_HEADER:
        raise ProtocolError("too_large", "bundle header is too large")
    header_bytes = fileobj.read(header_length)
    if len(header_bytes) != header_length:
        raise ProtocolError("truncated", "bundle ended inside its header")
    try:
        header = json_load(header_bytes, what="bundle header")
    except ProtocolError as exc:  # a damaged header is a bad bundle, like every other framing fault
        raise ProtocolError("bad_bundle", exc.message) from exc
    sizes = header.get("blobs")
    if (
        not isinstance(sizes, list)
        or len(sizes) > MAX_BLOBS
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes)
    ):
        raise ProtocolError("bad_bundle", "bundle header lists invalid blob sizes")
    # is_int: `"v": true` is not version 1 (True == 1 in Python).
    version = header.get("v")
    if not (is_int(version) and version == VERSION) or not BUNDLE_ID.fullmatch(str(header.get("bundle_id", ""))):
        raise ProtocolError("bad_bundle", "bundle header lacks a version or bundle id")

    digest = _digest()
    digest.update(prefix)
    digest.update(header_bytes)
    offsets, offset = [], PREFIX.size + header_length
    for size in sizes:
        offsets.append(offset)
        offset += size
    left = offset - PREFIX.size - header_length
    while left:
        data = fileobj.read(min(_READ, left))
        if not data:
            raise ProtocolError("truncated", "bundle ended before its last blob")
        digest.update(data)
        left -= len(data)
    trailer = fileobj.read(DIGEST_BYTES + (signing.SIGNATURE_BYTES if direction == OUTBOUND else 0) + 1)
    expected = DIGEST_BYTES + (signing.SIGNATURE_BYTES if direction == OUTBOUND else 0)
    if len(trailer) != expected:
        raise ProtocolError("truncated" if len(trailer) < expected else "bad_bundle", "bundle trailer has the wrong size")
    if trailer[:DIGEST_BYTES] != digest.digest():
        raise ProtocolError("bundle_corrupted", "bundle checksum does not match: the file is damaged or was altered")

    signer = None
    if direction == OUTBOUND:
        if manifest is None:
            raise ValueError("an outbound bundle is checked against the manifest")
        signer = manifest.desk_by_id(str(header.get("desk")))
        signing.verify("bundle", trailer[:DIGEST_BYTES], trailer[DIGEST_BYTES:], signer.sign_public)
    return Bundle(direction, header, tuple(offsets), tuple(sizes), signer)
