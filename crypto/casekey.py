"""Case key: 128 random bits plus a 12-bit checksum, as 28 Crockford base32 characters.

Typed back on any phone keyboard in any of the six UN languages, so parsing forgives
full-width forms (Chinese IMEs), Arabic-Indic digits, Cyrillic look-alike letters,
lower case, spaces and dashes. See docs/PROTOCOL.md, "Case key".
"""

import secrets
import unicodedata

from nacl.bindings import crypto_generichash_blake2b_salt_personal as _blake2b

from .errors import ProtocolError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
KEY_BYTES = 16
CHECK_BITS = 12
LENGTH = 28  # (128 + 12) / 5
GROUP = 4
CHECK_LABEL = b"quietline/case-key-check/v1"

_DECODE = {c: i for i, c in enumerate(ALPHABET)}
# Crockford's own aliases, then look-alikes a phone in another script may produce.
_ALIASES = {"O": "0", "I": "1", "L": "1"}
_CYRILLIC = dict(zip("АВЕКМНОРСТХ", "ABEKMH0PCTX"))
_DIGITS = {chr(0x0660 + i): str(i) for i in range(10)} | {chr(0x06F0 + i): str(i) for i in range(10)}
_SEPARATORS = set(" \t\r\n-_.\u00a0\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u3000\u30fb")


def generate() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def _checksum(key: bytes) -> int:
    digest = _blake2b(key, digest_size=32, key=CHECK_LABEL)
    return (digest[0] << 4) | (digest[1] >> 4)


def encode(key: bytes) -> str:
    """Format a 16-byte case key as XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXXX."""
    if len(key) != KEY_BYTES:
        raise ProtocolError("bad_length", "a case key has 16 bytes")
    number = (int.from_bytes(key, "big") << CHECK_BITS) | _checksum(key)
    chars = []
    for _ in range(LENGTH):
        chars.append(ALPHABET[number & 31])
        number >>= 5
    text = "".join(reversed(chars))
    return "-".join(text[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def normalize(text: str) -> str:
    """Map whatever a keyboard produced to the 28 canonical characters (or raise)."""
    if not isinstance(text, str):
        raise ProtocolError("case_key_invalid_character", "the case key must be text")
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        if ch in _SEPARATORS:
            continue
        ch = _DIGITS.get(ch, ch).upper()
        ch = _CYRILLIC.get(ch, ch)
        ch = _ALIASES.get(ch, ch)
        if ch not in _DECODE:
            raise ProtocolError("case_key_invalid_character", "the case key has a character that is not in it")
        out.append(ch)
    if len(out) != LENGTH:
        raise ProtocolError("case_key_wrong_length", f"a case key has {LENGTH} characters, this has {len(out)}")
    return "".join(out)


def parse(text: str) -> bytes:
    """Return the 16 key bytes, or raise ProtocolError with a code the client can translate."""
    number = 0
    for ch in normalize(text):
        number = (number << 5) | _DECODE[ch]
    check = number & ((1 << CHECK_BITS) - 1)
    key = (number >> CHECK_BITS).to_bytes(KEY_BYTES, "big")
    if check != _checksum(key):
        raise ProtocolError("case_key_bad_checksum", "the case key has a typing mistake")
    return key
