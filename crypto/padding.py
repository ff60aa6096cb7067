"""Size hiding: messages padded to fixed buckets, attachments to bucketed chunk counts."""

from nacl.bindings import sodium_pad, sodium_unpad

from .errors import ProtocolError

# 1 KiB, 4 KiB, 16 KiB, 64 KiB, 256 KiB, 1 MiB: every report, follow-up and reply
# is exactly one of these sizes before encryption.
MESSAGE_BUCKETS = tuple(1024 * 4**k for k in range(6))
MAX_MESSAGE = MESSAGE_BUCKETS[-1]


def message_bucket(length: int) -> int:
    """Smallest bucket that holds `length` bytes plus the mandatory 0x80 pad marker."""
    for bucket in MESSAGE_BUCKETS:
        if length + 1 <= bucket:
            return bucket
    raise ProtocolError("too_large", f"a message may hold at most {MAX_MESSAGE - 1} bytes")


def pad_message(data: bytes) -> bytes:
    """ISO/IEC 7816-4 padding (libsodium's sodium_pad) up to the bucket size."""
    return sodium_pad(data, message_bucket(len(data)))


def unpad_message(padded: bytes) -> bytes:
    if len(padded) not in MESSAGE_BUCKETS:
        raise ProtocolError("bad_padding", "padded message is not a bucket size")
    try:
        return sodium_unpad(padded, len(padded))
    except Exception as exc:  # libsodium reports only failure
        raise ProtocolError("bad_padding", "padding is malformed") from exc


def chunk_count_bucket(chunks: int) -> int:
    """Round a chunk count up to 2^k or 3*2^(k-1): 1, 2, 3, 4, 6, 8, 12, 16, 24 ...

    At most 50 % overhead, and an observer learns about 1.6 bits per doubling of size.
    """
    if chunks < 1:
        raise ProtocolError("bad_length", "an attachment has at least one chunk")
    power = 1
    while True:
        if chunks <= power:
            return power
        if power >= 2 and chunks <= power + power // 2:
            return power + power // 2
        power *= 2


def is_chunk_count_bucket(chunks: int) -> bool:
    return chunks >= 1 and chunk_count_bucket(chunks) == chunks
