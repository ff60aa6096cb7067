"""Byte encodings shared by every format: standard base64 and UTF-8 JSON.

Both are defined strictly enough that client_web/js/encoding.js produces and accepts exactly
the same bytes: base64 must be canonical (what b64encode would write), and JSON numbers are
integers within ±(2**53 − 1), the range a JavaScript number holds exactly.
"""

import base64
import binascii
import json
from typing import Any

from .errors import ProtocolError

MAX_SAFE_INT = 2**53 - 1


def is_int(value: Any) -> bool:
    """A JSON integer; Python's bool is an int, JavaScript's is not, so exclude it."""
    return isinstance(value, int) and not isinstance(value, bool)


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, *, field: str = "value", length: int | None = None) -> bytes:
    if not isinstance(text, str):
        raise ProtocolError("bad_base64", f"{field} must be a base64 string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ProtocolError("bad_base64", f"{field} is not valid base64") from exc
    # Python accepts non-zero trailing bits ("QR==") and extra padding ("QUJD===="); libsodium
    # and the browser do not. Only the canonical spelling is valid, so one value has one text.
    if b64encode(data) != text:
        raise ProtocolError("bad_base64", f"{field} is not canonical base64")
    if length is not None and len(data) != length:
        raise ProtocolError("bad_length", f"{field} must be {length} bytes, got {len(data)}")
    return data


def _check_json_value(value: Any) -> None:
    """Refuse what JavaScript could not serialise to the same bytes."""
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise ProtocolError("bad_json", "JSON integers are limited to ±(2**53 - 1)")
        return
    if isinstance(value, float):
        raise ProtocolError("bad_json", "JSON numbers are integers only")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ProtocolError("bad_json", "JSON object keys are strings")
            _check_json_value(item)
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_json_value(item)
        return
    raise TypeError(f"{type(value).__name__} is not JSON")


def json_bytes(value: Any) -> bytes:
    """Deterministic compact JSON; signatures cover these exact bytes.

    Keys are sorted by Unicode code point (Python's str order), strings are UTF-8 and not
    escaped beyond what JSON requires. A lone surrogate cannot be UTF-8: `bad_json`."""
    _check_json_value(value)
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProtocolError("bad_json", "text is not valid Unicode") from exc


def _reject_number(text: str) -> Any:
    raise ValueError(f"JSON number {text!r} is not an integer")


def _safe_int(text: str) -> int:
    number = int(text)
    if abs(number) > MAX_SAFE_INT:
        raise ValueError("JSON integer out of range")
    return number


def json_load(data: bytes, *, what: str) -> dict:
    try:
        value = json.loads(
            data.decode("utf-8"),
            parse_float=_reject_number,
            parse_int=_safe_int,
            parse_constant=_reject_number,
        )
    except (ValueError, RecursionError) as exc:
        # ValueError covers UnicodeDecodeError, JSONDecodeError, the number hooks above and
        # integers longer than Python's int/str digit limit; RecursionError, deeply nested
        # arrays or objects. Both can come from untrusted bytes (an anonymous submitter's
        # envelope body, a bundle header before its digest is checked), so they must be
        # ProtocolErrors.
        raise ProtocolError("bad_json", f"{what} is not UTF-8 JSON with integer numbers") from exc
    if not isinstance(value, dict):
        raise ProtocolError("bad_json", f"{what} must be a JSON object")
    return value
