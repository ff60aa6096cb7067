"""Fixed-size JSON bodies (docs/PROTOCOL.md, "Padding"): a case lookup answers with the same
number of bytes whether the case is unknown, has no replies, or has a few, so someone who
sees only the length of the encrypted response learns nothing from it.

A body is padded with a `pad` string (ASCII "0"s, one byte each) to the smallest bucket of
`MIN_BODY_BYTES` x 2^k bytes that holds it. 64 KiB holds a case with about 40 short replies
(a reply padded to 1 KiB is ~1.5 KiB in base64) or 11 of the 4 KiB bucket (a few paragraphs),
so nearly every case answers in the first bucket, and crossing it says only "a long
exchange"; it costs a phone on Slow 3G (400 kbit/s) about 1.3 s once per case opened.
"""

import json

MIN_BODY_BYTES = 64 * 1024


def body_bucket(length: int, minimum: int = MIN_BODY_BYTES) -> int:
    """The smallest `minimum` x 2^k that is at least `length`."""
    size = minimum
    while size < length:
        size *= 2
    return size


def _dumps(content: dict) -> bytes:
    # The same compact form as Starlette's JSONResponse; ASCII only, so a character is a byte.
    return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def padded_json(content: dict, minimum: int = MIN_BODY_BYTES) -> bytes:
    """`content` with a last member `"pad"` that brings the body to its bucket's length."""
    if "pad" in content:
        raise ValueError("content must not have a pad member of its own")
    bare = len(_dumps({**content, "pad": ""}))
    target = body_bucket(bare, minimum)
    body = _dumps({**content, "pad": "0" * (target - bare)})
    assert len(body) == target
    return body
