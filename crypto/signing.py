"""Ed25519 signatures with a purpose label, so a signature on one kind of object
can never be replayed as a signature on another."""

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from .errors import ProtocolError

PURPOSES = ("report", "followup", "reply", "manifest", "bundle")
SIGNATURE_BYTES = 64


def _domain(purpose: str) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown signature purpose {purpose!r}")
    return f"quietline:v1:{purpose}\n".encode("ascii")


def sign(purpose: str, data: bytes, secret_key: bytes) -> bytes:
    """`secret_key` is libsodium's 64-byte Ed25519 secret key (seed || public)."""
    return SigningKey(secret_key[:32]).sign(_domain(purpose) + data).signature


def verify(purpose: str, data: bytes, signature: bytes, public_key: bytes) -> None:
    if len(signature) != SIGNATURE_BYTES:
        raise ProtocolError("bad_signature", f"{purpose} signature has the wrong length")
    try:
        VerifyKey(public_key).verify(_domain(purpose) + data, signature)
    except (BadSignatureError, ValueError) as exc:
        raise ProtocolError("bad_signature", f"{purpose} signature does not verify") from exc
