"""crypto.attachment: secretstream in fixed 256 KiB chunks, padded to a bucketed count."""

import dataclasses
import os
import random

import pytest
from hypothesis import given, settings, strategies as st
from nacl.bindings import (
    crypto_secretstream_xchacha20poly1305_init_pull,
    crypto_secretstream_xchacha20poly1305_init_push,
    crypto_secretstream_xchacha20poly1305_pull,
    crypto_secretstream_xchacha20poly1305_push,
    crypto_secretstream_xchacha20poly1305_state,
    crypto_secretstream_xchacha20poly1305_TAG_FINAL as TAG_FINAL,
    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE as TAG_MESSAGE,
    crypto_secretstream_xchacha20poly1305_TAG_PUSH as TAG_PUSH,
)

from crypto import attachment
from crypto.attachment import (
    AttachmentOpener,
    AttachmentSealer,
    StreamParams,
    chunks_for_size,
    open_bytes,
    seal_bytes,
)
from ql_helpers import raises_code

C = 256 * 1024
CT = C + 17


def data_of(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def raw_stream(key: bytes, plaintexts: list[bytes], tags: list[int]) -> tuple[bytes, list[bytes]]:
    """Seal arbitrary chunk plaintexts with arbitrary tags, straight through libsodium: what
    a malicious submitter holding the key could upload."""
    state = crypto_secretstream_xchacha20poly1305_state()
    header = crypto_secretstream_xchacha20poly1305_init_push(state, key)
    return header, [crypto_secretstream_xchacha20poly1305_push(state, p, None, t) for p, t in zip(plaintexts, tags)]


def open_stream(params: StreamParams, chunks: list[bytes]) -> bytes:
    opener = AttachmentOpener(params)
    out = b"".join(opener.open_chunk(c) for c in chunks)
    opener.finish()
    return out


@pytest.fixture(scope="module")
def three_chunks():
    """A 2C+5 byte file: 3 chunks, the last mostly padding."""
    data = data_of(2 * C + 5, seed=3)
    params, chunks = seal_bytes(data)
    return data, params, chunks


def test_constants_match_protocol():
    assert attachment.CHUNK_PLAINTEXT == 262144
    assert attachment.CHUNK_CIPHERTEXT == 262161
    assert attachment.HEADER_BYTES == 24 and attachment.KEY_BYTES == 32


@pytest.mark.parametrize("size, chunks", [
    (0, 1), (1, 1), (C - 1, 1), (C, 1), (C + 1, 2), (2 * C, 2), (2 * C + 1, 3), (3 * C, 3), (3 * C + 1, 4),
    (4 * C, 4), (4 * C + 1, 6), (6 * C, 6), (6 * C + 1, 8), (8 * C + 1, 12), (100 * C, 128), (1000 * C, 1024),
])
def test_chunks_for_size(size, chunks):
    assert chunks_for_size(size) == chunks


def test_chunks_for_negative_size():
    with raises_code("bad_length"):
        chunks_for_size(-1)
    with raises_code("bad_length"):
        AttachmentSealer(-5)


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, C - 1, C, C + 1, 2 * C + 5, 3 * C + 1, 4 * C + 1])
def test_round_trip(size):
    data = data_of(size, seed=size)
    params, chunks = seal_bytes(data)
    assert params.size == size and params.chunks == chunks_for_size(size) == len(chunks)
    assert len(params.key) == 32 and len(params.header) == 24
    assert all(len(c) == CT for c in chunks)
    assert open_bytes(params, b"".join(chunks)) == data
    assert open_stream(params, chunks) == data


def test_tags_and_zero_padding_follow_protocol(three_chunks):
    data, params, chunks = three_chunks
    state = crypto_secretstream_xchacha20poly1305_state()
    crypto_secretstream_xchacha20poly1305_init_pull(state, params.header, params.key)
    plain = []
    for i, chunk in enumerate(chunks):
        p, tag = crypto_secretstream_xchacha20poly1305_pull(state, chunk, None)
        assert len(p) == C
        assert tag == (TAG_FINAL if i == len(chunks) - 1 else TAG_MESSAGE)
        plain.append(p)
    assert b"".join(plain) == data + bytes(3 * C - len(data))


def test_given_key_is_used():
    key = bytes(range(32))
    params, chunks = seal_bytes(b"hello", key=key)
    assert params.key == key
    assert open_bytes(params, b"".join(chunks)) == b"hello"


def test_each_seal_is_fresh():
    a, ca = seal_bytes(b"same")
    b, cb = seal_bytes(b"same")
    assert a.key != b.key and a.header != b.header and ca != cb
    # Even with the same key, the random header gives a different stream.
    k = os.urandom(32)
    a, ca = seal_bytes(b"same", key=k)
    b, cb = seal_bytes(b"same", key=k)
    assert a.header != b.header and ca != cb


def test_streaming_sealer(three_chunks):
    data, _, _ = three_chunks
    sealer = AttachmentSealer(len(data))
    assert sealer.params.chunks == 3
    chunks = [sealer.seal_chunk(data[i * C : (i + 1) * C]) for i in range(3)]
    assert open_bytes(sealer.params, b"".join(chunks)) == data


def test_streaming_sealer_pads_with_empty_chunks():
    data = data_of(4 * C + 1, seed=9)  # 5 data chunks, bucketed to 6
    sealer = AttachmentSealer(len(data))
    assert sealer.params.chunks == 6
    chunks = [sealer.seal_chunk(data[i * C : (i + 1) * C]) for i in range(6)]
    assert [len(c) for c in chunks] == [CT] * 6
    assert open_stream(sealer.params, chunks) == data


def test_streaming_sealer_refuses_too_many_chunks():
    sealer = AttachmentSealer(10)
    sealer.seal_chunk(b"0123456789")
    with raises_code("too_many_chunks"):
        sealer.seal_chunk(b"")
    with raises_code("too_many_chunks"):
        sealer.seal_chunk(b"x")
    sealer = AttachmentSealer(C + 1)  # two chunks
    sealer.seal_chunk(bytes(C))
    sealer.seal_chunk(b"\x00")
    with raises_code("too_many_chunks"):
        sealer.seal_chunk(b"")


def test_streaming_sealer_refuses_oversized_chunk():
    sealer = AttachmentSealer(2 * C)
    with raises_code("bad_length"):
        sealer.seal_chunk(bytes(C + 1))


def test_streaming_sealer_takes_exactly_the_declared_bytes():
    # Each chunk is exactly what the declared size implies: a file that changed while it
    # was read must not give a stream that hides or loses bytes.
    sealer = AttachmentSealer(C + 10)
    with raises_code("bad_length"):
        sealer.seal_chunk(bytes(C - 1))  # short before the end
    sealer.seal_chunk(bytes(C))
    with raises_code("bad_length"):
        sealer.seal_chunk(bytes(11))  # more than the file has left
    with raises_code("bad_length"):
        sealer.seal_chunk(bytes(9))
    sealer.seal_chunk(bytes(10))
    sealer = AttachmentSealer(4 * C + 1)  # six chunks, the last one empty
    for _ in range(4):
        sealer.seal_chunk(bytes(C))
    sealer.seal_chunk(b"\x01")
    with raises_code("bad_length"):
        sealer.seal_chunk(b"\x00")  # a padding chunk takes no data
    sealer.seal_chunk(b"")


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=2 * C + 100))
def test_round_trip_random_sizes(size):
    data = os.urandom(size)
    params, chunks = seal_bytes(data)
    assert open_bytes(params, b"".join(chunks)) == data


# --- tampering ---------------------------------------------------------------------------


def test_reordered_chunks(three_chunks):
    _, params, chunks = three_chunks
    for order in ([1, 0, 2], [0, 2, 1], [2, 1, 0]):
        with raises_code("decryption_failed"):
            open_stream(params, [chunks[i] for i in order])
        with raises_code("decryption_failed"):
            open_bytes(params, b"".join(chunks[i] for i in order))


def test_dropped_last_chunk(three_chunks):
    _, params, chunks = three_chunks
    opener = AttachmentOpener(params)
    opener.open_chunk(chunks[0])
    opener.open_chunk(chunks[1])
    assert not opener.finished
    with raises_code("truncated"):
        opener.finish()
    with raises_code("truncated"):
        open_bytes(params, b"".join(chunks[:2]))


def test_dropped_middle_chunk(three_chunks):
    _, params, chunks = three_chunks
    with raises_code("decryption_failed"):
        open_stream(params, [chunks[0], chunks[2]])


def test_duplicated_chunk(three_chunks):
    _, params, chunks = three_chunks
    with raises_code("decryption_failed"):
        open_stream(params, [chunks[0], chunks[0], chunks[2]])
    with raises_code("decryption_failed"):
        open_bytes(params, chunks[0] + chunks[0] + chunks[1])


def test_extra_chunk_after_final(three_chunks):
    _, params, chunks = three_chunks
    opener = AttachmentOpener(params)
    for c in chunks:
        opener.open_chunk(c)
    assert opener.finished
    opener.finish()
    for extra in (chunks[2], chunks[0], bytes(CT), b""):
        with raises_code("too_many_chunks"):
            opener.open_chunk(extra)
    with raises_code("truncated"):
        open_bytes(params, b"".join(chunks) + chunks[2])


def test_stream_truncated_to_fewer_chunks_with_final_tag():
    # A one-chunk stream presented where the descriptor says two chunks.
    key = os.urandom(32)
    small, chunks = seal_bytes(b"x", key=key)
    params = dataclasses.replace(small, size=C + 1, chunks=2)
    opener = AttachmentOpener(params)
    with raises_code("truncated"):
        opener.open_chunk(chunks[0])


def test_bit_flips(three_chunks):
    _, params, chunks = three_chunks
    rng = random.Random(11)
    for index in range(3):
        for pos in [0, 1, 16, 17, CT - 17, CT - 1] + [rng.randrange(CT) for _ in range(6)]:
            bad = bytearray(chunks[index])
            bad[pos] ^= 1 << rng.randrange(8)
            tampered = list(chunks)
            tampered[index] = bytes(bad)
            with raises_code("decryption_failed"):
                open_stream(params, tampered)


def test_wrong_key(three_chunks):
    _, params, chunks = three_chunks
    with raises_code("decryption_failed"):
        open_stream(dataclasses.replace(params, key=os.urandom(32)), chunks)


def test_wrong_header(three_chunks):
    _, params, chunks = three_chunks
    bad = bytearray(params.header)
    bad[0] ^= 1
    with raises_code("decryption_failed"):
        open_stream(dataclasses.replace(params, header=bytes(bad)), chunks)


def test_chunk_from_another_stream_with_the_same_key(three_chunks):
    data, params, chunks = three_chunks
    _, other = seal_bytes(data, key=params.key)
    with raises_code("decryption_failed"):
        open_stream(params, [chunks[0], other[1], chunks[2]])


@pytest.mark.parametrize("length", [0, 1, CT - 1, CT + 1, C])
def test_chunk_of_wrong_size(three_chunks, length):
    _, params, chunks = three_chunks
    opener = AttachmentOpener(params)
    with raises_code("truncated"):
        opener.open_chunk((chunks[0] * 2)[:length])


def test_total_size_mismatch(three_chunks):
    _, params, chunks = three_chunks
    blob = b"".join(chunks)
    for bad in (blob[:-1], blob + b"\x00", blob[: 2 * CT]):
        with raises_code("truncated"):
            open_bytes(params, bad)


# --- crafted streams (a malicious sender with the key) ----------------------------------


def test_crafted_stream_opens():
    key = os.urandom(32)
    header, chunks = raw_stream(key, [b"ab" + bytes(C - 2)], [TAG_FINAL])
    assert open_bytes(StreamParams(key, header, 2, 1), chunks[0]) == b"ab"


@pytest.mark.parametrize("where", [2, 3, C // 2, C - 1])
def test_non_zero_padding_in_last_chunk(where):
    key = os.urandom(32)
    plain = bytearray(b"ab" + bytes(C - 2))
    plain[where] = 1
    header, chunks = raw_stream(key, [bytes(plain)], [TAG_FINAL])
    with raises_code("bad_padding"):
        open_bytes(StreamParams(key, header, 2, 1), chunks[0])


def test_non_zero_padding_in_empty_file():
    key = os.urandom(32)
    header, chunks = raw_stream(key, [bytes(C - 1) + b"\x01"], [TAG_FINAL])
    with raises_code("bad_padding"):
        open_bytes(StreamParams(key, header, 0, 1), chunks[0])


def test_non_zero_padding_in_padding_only_chunk():
    # 4C+1 bytes: chunks 0-4 carry data, chunk 5 is pure padding and must be all zero.
    key = os.urandom(32)
    size = 4 * C + 1
    plains = [b"\x07" * C] * 4 + [b"\x07" + bytes(C - 1), bytes(C - 1) + b"\xff"]
    header, chunks = raw_stream(key, plains, [TAG_MESSAGE] * 5 + [TAG_FINAL])
    params = StreamParams(key, header, size, 6)
    opener = AttachmentOpener(params)
    for c in chunks[:5]:
        opener.open_chunk(c)
    with raises_code("bad_padding"):
        opener.open_chunk(chunks[5])


def test_final_tag_too_early():
    key = os.urandom(32)
    header, chunks = raw_stream(key, [bytes(C), bytes(C)], [TAG_FINAL, TAG_MESSAGE])
    params = StreamParams(key, header, C + 1, 2)
    with raises_code("truncated"):
        AttachmentOpener(params).open_chunk(chunks[0])


def test_final_tag_missing_on_last_chunk():
    key = os.urandom(32)
    for last_tag in (TAG_MESSAGE, TAG_PUSH):
        header, chunks = raw_stream(key, [bytes(C), bytes(C)], [TAG_MESSAGE, last_tag])
        params = StreamParams(key, header, C + 1, 2)
        opener = AttachmentOpener(params)
        opener.open_chunk(chunks[0])
        with raises_code("truncated"):
            opener.open_chunk(chunks[1])


def test_short_chunk_plaintext_is_refused():
    # A chunk whose plaintext is shorter than C has the wrong ciphertext size.
    key = os.urandom(32)
    header, chunks = raw_stream(key, [b"ab"], [TAG_FINAL])
    with raises_code("truncated"):
        AttachmentOpener(StreamParams(key, header, 2, 1)).open_chunk(chunks[0])


# --- descriptor parameters ---------------------------------------------------------------


@pytest.mark.parametrize("key_len, header_len", [(31, 24), (33, 24), (0, 24), (32, 23), (32, 25), (32, 0)])
def test_opener_refuses_bad_lengths(key_len, header_len):
    with raises_code("bad_length"):
        AttachmentOpener(StreamParams(bytes(key_len), bytes(header_len), 1, 1))


@pytest.mark.parametrize("size, chunks", [(1, 2), (C + 1, 1), (C + 1, 3), (4 * C + 1, 5), (0, 0), (5, -1),
                                          (4 * C + 1, 8)])
def test_opener_refuses_size_chunk_disagreement(size, chunks):
    with raises_code("bad_attachment"):
        AttachmentOpener(StreamParams(os.urandom(32), os.urandom(24), size, chunks))


def test_opener_refuses_negative_size():
    with raises_code("bad_attachment", "bad_length"):
        AttachmentOpener(StreamParams(os.urandom(32), os.urandom(24), -1, 1))
