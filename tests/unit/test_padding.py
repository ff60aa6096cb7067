"""crypto.padding: message buckets (ISO/IEC 7816-4) and bucketed attachment chunk counts."""

import pytest
from hypothesis import given, settings, strategies as st

from crypto import padding
from ql_helpers import raises_code

KIB = 1024
BUCKETS = [1 * KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, 1024 * KIB]


def test_buckets_match_protocol():
    assert padding.MESSAGE_BUCKETS == tuple(BUCKETS)
    assert padding.MAX_MESSAGE == 1024 * KIB


@pytest.mark.parametrize(
    "length, bucket",
    [(0, 1 * KIB), (1, 1 * KIB)]
    + [(b - 2, b) for b in BUCKETS]
    + [(b - 1, b) for b in BUCKETS]
    + [(b, nb) for b, nb in zip(BUCKETS, BUCKETS[1:])]
    + [(b + 1, nb) for b, nb in zip(BUCKETS, BUCKETS[1:])],
)
def test_message_bucket_boundaries(length, bucket):
    assert padding.message_bucket(length) == bucket


@pytest.mark.parametrize("length", [1024 * KIB, 1024 * KIB + 1, 10 * 1024 * KIB])
def test_message_bucket_too_large(length):
    with raises_code("too_large"):
        padding.message_bucket(length)


@pytest.mark.parametrize(
    "length",
    [0, 1] + [b - 1 for b in BUCKETS] + [b for b in BUCKETS[:-1]] + [b + 1 for b in BUCKETS[:-1]],
)
def test_pad_round_trip_at_boundaries(length):
    data = bytes((i * 7 + 3) % 256 for i in range(length))
    padded = padding.pad_message(data)
    assert len(padded) == padding.message_bucket(length)
    # ISO/IEC 7816-4: the data, 0x80, then zeros.
    assert padded[:length] == data
    assert padded[length] == 0x80
    assert not any(padded[length + 1 :])
    assert padding.unpad_message(padded) == data


def test_data_ending_in_pad_like_bytes_round_trips():
    for data in (b"\x80", b"\x80\x00\x00", b"abc\x80", b"\x00" * 100, b"\x80" * 1023):
        assert padding.unpad_message(padding.pad_message(data)) == data


@pytest.mark.parametrize("length", [1024 * KIB, 1024 * KIB + 5])
def test_pad_too_large(length):
    with raises_code("too_large"):
        padding.pad_message(bytes(length))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=5000))
def test_pad_round_trip_random(data):
    padded = padding.pad_message(data)
    assert len(padded) in BUCKETS and len(padded) > len(data)
    assert padding.unpad_message(padded) == data


@pytest.mark.parametrize("length", [0, 1, 1023, 1025, 2048, 4095, 4097, 1024 * KIB + 1, 2 * 1024 * KIB])
def test_unpad_refuses_non_bucket_length(length):
    with raises_code("bad_padding"):
        padding.unpad_message(b"\x80" + bytes(length - 1) if length else b"")


@pytest.mark.parametrize(
    "padded",
    [
        bytes(1024),  # no marker at all
        b"abc" + bytes(1021),  # data, then zeros, no marker
        b"abc\x80" + bytes(1019) + b"\x01",  # non-zero byte after the marker
        b"\x00" * 1023 + b"\x81",  # last non-zero byte is not 0x80
        b"\xff" * 1024,
        b"abc\x80" + bytes(4091) + b"\x7f",
        bytes(1024 * KIB),
    ],
)
def test_unpad_refuses_malformed_padding(padded):
    assert len(padded) in BUCKETS
    with raises_code("bad_padding"):
        padding.unpad_message(padded)


def test_unpad_takes_the_last_marker():
    # 0x80 as the very last byte is a valid pad of bucket-1 data bytes, whatever they are.
    padded = b"abc\x80" + bytes(1019) + b"\x80"
    assert padding.unpad_message(padded) == padded[:-1]


# --- attachment chunk counts -------------------------------------------------------------

EXPECTED_SEQUENCE = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]


def test_chunk_count_bucket_sequence():
    buckets = sorted({padding.chunk_count_bucket(n) for n in range(1, 1025)})
    assert buckets == EXPECTED_SEQUENCE


@pytest.mark.parametrize("bucket", EXPECTED_SEQUENCE)
def test_chunk_count_bucket_boundaries(bucket):
    assert padding.chunk_count_bucket(bucket) == bucket
    assert padding.is_chunk_count_bucket(bucket)
    following = EXPECTED_SEQUENCE[EXPECTED_SEQUENCE.index(bucket) + 1] if bucket != 1024 else 1536
    assert padding.chunk_count_bucket(bucket + 1) == following
    if bucket > 1:
        below = bucket - 1
        assert padding.chunk_count_bucket(below) == (below if below in EXPECTED_SEQUENCE else bucket)


@pytest.mark.parametrize("n", [5, 7, 9, 10, 11, 13, 100, 1000, 1025])
def test_non_buckets(n):
    assert not padding.is_chunk_count_bucket(n)


@pytest.mark.parametrize("n", [0, -1, -100])
def test_chunk_count_bucket_refuses_less_than_one(n):
    with raises_code("bad_length"):
        padding.chunk_count_bucket(n)
    assert not padding.is_chunk_count_bucket(n)


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=1, max_value=2**40))
def test_chunk_count_bucket_properties(n):
    b = padding.chunk_count_bucket(n)
    assert b >= n
    assert 2 * b <= 3 * n  # at most 50 % overhead
    # b is 2^k or 3 * 2^(k-1)
    assert b & (b - 1) == 0 or (b % 3 == 0 and (b // 3) & (b // 3 - 1) == 0 and b >= 3)
    assert padding.chunk_count_bucket(b) == b  # idempotent
    assert padding.is_chunk_count_bucket(b)
    # ...and the smallest such: no bucket between n and b.
    for smaller in (b // 2, b * 2 // 3, b * 3 // 4):
        if smaller >= n and smaller != b:
            assert not padding.is_chunk_count_bucket(smaller)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=2**30), st.integers(min_value=1, max_value=2**30))
def test_chunk_count_bucket_is_monotonic(a, b):
    if a <= b:
        assert padding.chunk_count_bucket(a) <= padding.chunk_count_bucket(b)
