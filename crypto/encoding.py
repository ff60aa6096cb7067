"""Byte encodings shared by every format: standard base64 and UTF-8 JSON."""

import base64
import binascii
import json
from typing import Any

from .errors import ProtocolError


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, field: str = "value", length: int | None = None) -> bytes:
    if not isinstance(text, str):
        raise ProtocolError("bad_base64", f"{field} must be a base64 string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ProtocolError("bad_base64", f"{field} is not valid base64") from exc
    if length is not None and len(data) != length:
        raise ProtocolError("bad_length", f"{field} must be {length} bytes, got {len(data)}")
    return data


def json_bytes(value: Any) -> bytes:
    """Deterministic compact JSON; signatures cover these exact bytes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def json_load(data: bytes, *, what: str) -> dict:
    try:
        value = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        # ValueError covers UnicodeDecodeError, JSONDecodeError and integers longer than
        # Python's int/str digit limit; RecursionError, deeply nested arrays or objects.
        # Both can come from untrusted bytes (an anonymous submitter's envelope body, a
        # bundle header before its digest is checked), so they must be ProtocolErrors.
        raise ProtocolError("bad_json", f"{what} is not UTF-8 JSON") from exc
    if not isinstance(value, dict):
        raise ProtocolError("bad_json", f"{what} must be a JSON object")
    return value
