"""Report and follow-up envelopes: signed inside by the case key, encrypted under a random
data key, that key sealed to every desk in the manifest (docs/PROTOCOL.md, "Envelope")."""

import secrets
from dataclasses import dataclass

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_box_seal,
    crypto_box_seal_open,
)
from nacl.exceptions import CryptoError

from . import signing
from .encoding import json_bytes, json_load
from .errors import ProtocolError
from .manifest import DeskPublic
from .padding import MESSAGE_BUCKETS, pad_message, unpad_message

MAGIC = b"QLEN"
VERSION = 1
KINDS = {"report": 1, "followup": 2}
KEY_ID_BYTES = 8
SEALED_KEY_BYTES = 32 + 48  # crypto_box_seal adds an ephemeral key and a MAC
ENTRY_BYTES = KEY_ID_BYTES + SEALED_KEY_BYTES
NONCE_BYTES = 24
AEAD_TAG = 16
MAX_RECIPIENTS = 16


@dataclass(frozen=True)
class EnvelopeHeader:
    kind: str
    recipients: tuple[bytes, ...]  # desk key ids
    header_length: int
    total_length: int


def seal(kind: str, body: dict, sign_secret: bytes, desks: tuple[DeskPublic, ...]) -> bytes:
    """Sign the body with the case's key, pad, encrypt, and seal the data key to each desk."""
    if kind not in KINDS:
        raise ValueError(f"unknown envelope kind {kind!r}")
    if not 1 <= len(desks) <= MAX_RECIPIENTS:
        raise ProtocolError("bad_recipients", f"an envelope has 1 to {MAX_RECIPIENTS} recipients")
    if len({desk.key_id for desk in desks}) != len(desks):
        raise ProtocolError("bad_recipients", "an envelope names each recipient once")
    body_bytes = json_bytes(body)
    inner = signing.sign(kind, body_bytes, sign_secret) + body_bytes
    data_key = secrets.token_bytes(32)
    header = bytearray(MAGIC + bytes([VERSION, KINDS[kind], len(desks)]))
    for desk in desks:
        header += desk.key_id + crypto_box_seal(data_key, desk.box_public)
    header += secrets.token_bytes(NONCE_BYTES)
    nonce = bytes(header[-NONCE_BYTES:])
    ciphertext = crypto_aead_xchacha20poly1305_ietf_encrypt(pad_message(inner), bytes(header), nonce, data_key)
    return bytes(header) + ciphertext


def parse_header(envelope: bytes, *, expect_kind: str | None = None) -> EnvelopeHeader:
    """Check the framing without any key: what the server does before storing an envelope."""
    if len(envelope) < 7 or envelope[:4] != MAGIC:
        raise ProtocolError("bad_envelope", "not a Quietline envelope")
    if envelope[4] != VERSION:
        raise ProtocolError("unsupported_version", f"envelope version {envelope[4]} is not supported")
    kinds = {v: k for k, v in KINDS.items()}
    if envelope[5] not in kinds:
        raise ProtocolError("bad_envelope", "unknown envelope kind")
    kind = kinds[envelope[5]]
    if expect_kind is not None and kind != expect_kind:
        raise ProtocolError("wrong_kind", f"expected a {expect_kind} envelope, got a {kind}")
    count = envelope[6]
    if not 1 <= count <= MAX_RECIPIENTS:
        raise ProtocolError("bad_recipients", f"an envelope has 1 to {MAX_RECIPIENTS} recipients")
    header_length = 7 + count * ENTRY_BYTES + NONCE_BYTES
    body_length = len(envelope) - header_length - AEAD_TAG
    if body_length not in MESSAGE_BUCKETS:
        raise ProtocolError("bad_envelope", "envelope size is not a padding bucket")
    ids = tuple(envelope[7 + i * ENTRY_BYTES : 7 + i * ENTRY_BYTES + KEY_ID_BYTES] for i in range(count))
    if len(set(ids)) != count:
        raise ProtocolError("bad_recipients", "an envelope names each recipient once")
    return EnvelopeHeader(kind, ids, header_length, len(envelope))


@dataclass(frozen=True)
class OpenedEnvelope:
    kind: str
    body: dict
    signature: bytes
    body_bytes: bytes

    def verify(self, sign_public: bytes) -> None:
        signing.verify(self.kind, self.body_bytes, self.signature, sign_public)


def open_envelope(envelope: bytes, desk: DeskPublic, box_secret: bytes) -> OpenedEnvelope:
    """Decrypt as `desk`. The signature is checked by the caller, who knows which case key
    to expect: the report carries its own, follow-ups use the report's."""
    header = parse_header(envelope)
    for index, key_id in enumerate(header.recipients):
        if key_id == desk.key_id:
            start = 7 + index * ENTRY_BYTES + KEY_ID_BYTES
            sealed = envelope[start : start + SEALED_KEY_BYTES]
            break
    else:
        raise ProtocolError("not_a_recipient", "this desk is not a recipient of the envelope")
    try:
        data_key = crypto_box_seal_open(sealed, desk.box_public, box_secret)
        aad = envelope[: header.header_length]
        padded = crypto_aead_xchacha20poly1305_ietf_decrypt(
            envelope[header.header_length :], aad, aad[-NONCE_BYTES:], data_key
        )
    except CryptoError as exc:
        raise ProtocolError("decryption_failed", "envelope was tampered with or not sealed to this desk") from exc
    inner = unpad_message(padded)
    if len(inner) < signing.SIGNATURE_BYTES:
        raise ProtocolError("bad_envelope", "envelope body is too short")
    body_bytes = inner[signing.SIGNATURE_BYTES :]
    body = json_load(body_bytes, what="envelope body")
    if body.get("kind") != header.kind:
        raise ProtocolError("wrong_kind", "envelope body kind does not match its header")
    return OpenedEnvelope(header.kind, body, inner[: signing.SIGNATURE_BYTES], body_bytes)
