"""Attachment streams: secretstream XChaCha20-Poly1305 in fixed 256 KiB chunks, padded
to a bucketed chunk count, each chunk uploadable and resumable on its own
(docs/PROTOCOL.md, "Attachment stream")."""

import secrets
from dataclasses import dataclass

from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_ABYTES as ABYTES,
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL as TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE as TAG_MESSAGE,
)
from nacl.exceptions import CryptoError

from .errors import ProtocolError
from .padding import chunk_count_bucket, is_chunk_count_bucket

CHUNK_PLAINTEXT = 256 * 1024
CHUNK_CIPHERTEXT = CHUNK_PLAINTEXT + ABYTES
HEADER_BYTES = 24
KEY_BYTES = 32


def chunks_for_size(size: int) -> int:
    if size < 0:
        raise ProtocolError("bad_length", "negative attachment size")
    return chunk_count_bucket(max(1, -(-size // CHUNK_PLAINTEXT)))


@dataclass(frozen=True)
class StreamParams:
    """What the encrypted report's attachment descriptor carries to open the stream."""

    key: bytes
    header: bytes
    size: int
    chunks: int


class AttachmentSealer:
    """Encrypts one file chunk by chunk, in order, so a browser or CLI never holds it whole."""

    def __init__(self, size: int, key: bytes | None = None, header: bytes | None = None):
        """A fresh stream (random header; random key unless given), or, with `key` and
        `header`, the same stream again from its first chunk: init_pull yields the state
        init_push had, so every chunk comes out byte for byte as before (docs/PROTOCOL.md,
        "Resumable attachments")."""
        chunks = chunks_for_size(size)
        self._state = crypto_secretstream_xchacha20poly1305_state()
        if header is None:
            key = key or secrets.token_bytes(KEY_BYTES)
            if len(key) != KEY_BYTES:
                raise ProtocolError("bad_length", "an attachment key has 32 bytes")
            header = crypto_secretstream_xchacha20poly1305_init_push(self._state, key)
        else:
            if key is None or len(key) != KEY_BYTES or len(header) != HEADER_BYTES:
                raise ProtocolError("bad_length", "resuming needs a 32-byte key and a 24-byte header")
            key, header = bytes(key), bytes(header)
            crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, key)
        self.params = StreamParams(key, header, size, chunks)
        self._next = 0

    def seal_chunk(self, data: bytes) -> bytes:
        """`data` is the next CHUNK_PLAINTEXT bytes of the file (shorter at its end, empty after)."""
        if self._next >= self.params.chunks:
            raise ProtocolError("too_many_chunks", "the stream is already final")
        # Exactly the declared size, cut at chunk boundaries: a file that changed while it was
        # read would otherwise give a stream the desk cannot open (or silently truncates).
        expected = max(0, min(CHUNK_PLAINTEXT, self.params.size - self._next * CHUNK_PLAINTEXT))
        if len(data) != expected:
            raise ProtocolError("bad_length", f"chunk {self._next} has {len(data)} bytes, expected {expected}")
        self._next += 1
        tag = TAG_FINAL if self._next == self.params.chunks else TAG_MESSAGE
        padded = data + bytes(CHUNK_PLAINTEXT - len(data))
        return crypto_secretstream_xchacha20poly1305_push(self._state, padded, None, tag)


def seal_bytes(data: bytes, key: bytes | None = None, header: bytes | None = None) -> tuple[StreamParams, list[bytes]]:
    sealer = AttachmentSealer(len(data), key, header)
    chunks = [
        sealer.seal_chunk(data[i * CHUNK_PLAINTEXT : (i + 1) * CHUNK_PLAINTEXT]) for i in range(sealer.params.chunks)
    ]
    return sealer.params, chunks


class AttachmentOpener:
    """Decrypts chunks in order; refuses reordering, truncation, extension and hidden padding data."""

    def __init__(self, params: StreamParams):
        if len(params.key) != KEY_BYTES or len(params.header) != HEADER_BYTES:
            raise ProtocolError("bad_length", "attachment key or header has the wrong length")
        if not is_chunk_count_bucket(params.chunks) or chunks_for_size(params.size) != params.chunks:
            raise ProtocolError("bad_attachment", "attachment size and chunk count disagree")
        self.params = params
        self._state = crypto_secretstream_xchacha20poly1305_state()
        try:
            crypto_secretstream_xchacha20poly1305_init_pull(self._state, params.header, params.key)
        except CryptoError as exc:
            raise ProtocolError("decryption_failed", "attachment header is invalid") from exc
        self._index = 0
        self._remaining = params.size
        self.finished = False

    def open_chunk(self, ciphertext: bytes) -> bytes:
        if self.finished:
            raise ProtocolError("too_many_chunks", "data after the final chunk")
        if len(ciphertext) != CHUNK_CIPHERTEXT:
            raise ProtocolError("truncated", "attachment chunk has the wrong size")
        try:
            plain, tag = crypto_secretstream_xchacha20poly1305_pull(self._state, ciphertext, None)
        except CryptoError as exc:
            raise ProtocolError("decryption_failed", f"attachment chunk {self._index} failed authentication") from exc
        self._index += 1
        last = self._index == self.params.chunks
        if (tag == TAG_FINAL) != last:
            raise ProtocolError("truncated", "attachment stream ends at the wrong chunk")
        keep = min(self._remaining, CHUNK_PLAINTEXT)
        if any(plain[keep:]):
            raise ProtocolError("bad_padding", "attachment padding is not zero")
        self._remaining -= keep
        self.finished = last
        return plain[:keep]

    def finish(self) -> None:
        if not self.finished:
            raise ProtocolError("truncated", "attachment stream is incomplete")


def open_bytes(params: StreamParams, ciphertext: bytes) -> bytes:
    opener = AttachmentOpener(params)
    if len(ciphertext) != params.chunks * CHUNK_CIPHERTEXT:
        raise ProtocolError("truncated", "attachment has the wrong total size")
    out = b"".join(
        opener.open_chunk(ciphertext[i * CHUNK_CIPHERTEXT : (i + 1) * CHUNK_CIPHERTEXT]) for i in range(params.chunks)
    )
    opener.finish()
    return out
