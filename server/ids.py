"""Identifiers and days: the only ways the server names or dates anything."""

import re
import secrets
from datetime import date, datetime, timezone

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def is_hex32(value: object) -> bool:
    return isinstance(value, str) and bool(HEX32.match(value))


def new_id() -> str:
    """A random 128-bit identifier (upload ids, inbound bundle ids)."""
    return secrets.token_hex(16)


def utc_today() -> date:
    """Today in UTC: the finest time the server ever records."""
    return datetime.now(timezone.utc).date()
