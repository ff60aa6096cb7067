"""Proof of work against flooding, without addresses (docs/PROTOCOL.md, "Proof of work").

The server hands out short-lived challenges that it signs with a key of its own and keeps no
record of; a client attaches a counter that makes one hash of (challenge, binding, counter)
start with enough zero bits. The binding ties the work to one request, so the same work
cannot be spent on another.

    challenge = "QLPW" || 1 || purpose u8 || difficulty u8 || expires u32 BE (Unix minutes)
                || random 16 || MAC                                           (59 bytes)
    MAC       = BLAKE2b-32(the 27 bytes before it, key=server key)
    work(n)   = BLAKE2b-32(challenge || binding || LE64(n))        0 ≤ n ≤ 2^53 − 1
    valid     ⟺ work(n) has at least `difficulty` leading zero bits (most significant first)

    binding: report   = case_id (16 bytes)
             followup = case_id || BLAKE2b-32(envelope)
             upload   = BLAKE2b-16(resume, key="quietline/upload-resume-index/v1")  (resume_index),
                        or 16 zero bytes for an upload without a resume handle
    upload_id = hex(BLAKE2b-16(challenge || LE64(n), key="quietline/pow-upload-id/v1"))
"""

import re
import secrets
import struct
from dataclasses import dataclass

from nacl.bindings import crypto_generichash_blake2b_salt_personal as _blake2b

from .encoding import MAX_SAFE_INT, is_int
from .errors import ProtocolError
from .upload import resume_index

MAGIC = b"QLPW"
VERSION = 1
REPORT, FOLLOWUP, UPLOAD = 1, 2, 3
PURPOSES = {"report": REPORT, "followup": FOLLOWUP, "upload": UPLOAD}
RANDOM_BYTES = 16
MAC_BYTES = 32
KEY_BYTES = 32
BODY_BYTES = 4 + 1 + 1 + 1 + 4 + RANDOM_BYTES  # what the MAC covers
CHALLENGE_BYTES = BODY_BYTES + MAC_BYTES  # 59
MAX_DIFFICULTY = 64
BINDING_BYTES = {REPORT: 16, FOLLOWUP: 48, UPLOAD: 16}
NO_RESUME = bytes(16)  # the binding of an upload created without a resume handle
UPLOAD_ID_LABEL = b"quietline/pow-upload-id/v1"
# challenge || the longest binding || LE64(n) = 115 bytes: one BLAKE2b block per try.
assert CHALLENGE_BYTES + max(BINDING_BYTES.values()) + 8 <= 128


@dataclass(frozen=True)
class Challenge:
    purpose: int
    difficulty: int
    expires: int  # Unix minutes: valid while the current time is before expires × 60 s
    random: bytes
    raw: bytes


def _mac(key: bytes, body: bytes) -> bytes:
    return _blake2b(body, digest_size=MAC_BYTES, key=key)


def _check_key(key: bytes) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
        raise ProtocolError("bad_length", f"a proof-of-work key has {KEY_BYTES} bytes")


def make_challenge(key: bytes, purpose: int, difficulty: int, expires: int, random: bytes | None = None) -> bytes:
    """A signed challenge (server side). `random` defaults to 16 fresh random bytes."""
    _check_key(key)
    if purpose not in BINDING_BYTES:
        raise ProtocolError("bad_challenge", "unknown purpose")
    if not is_int(difficulty) or not 0 <= difficulty <= MAX_DIFFICULTY:
        raise ProtocolError("bad_challenge", f"difficulty is 0 to {MAX_DIFFICULTY} bits")
    if not is_int(expires) or not 0 <= expires < 2**32:
        raise ProtocolError("bad_challenge", "expires is a u32 count of minutes")
    random = secrets.token_bytes(RANDOM_BYTES) if random is None else random
    if len(random) != RANDOM_BYTES:
        raise ProtocolError("bad_length", f"the random part has {RANDOM_BYTES} bytes")
    body = MAGIC + bytes([VERSION, purpose, difficulty]) + struct.pack(">I", expires) + bytes(random)
    return body + _mac(key, body)


def parse_challenge(data: bytes) -> Challenge:
    """The fields of a challenge, without checking its MAC (what a client reads)."""
    if not isinstance(data, (bytes, bytearray)) or len(data) != CHALLENGE_BYTES:
        raise ProtocolError("bad_challenge", f"a challenge has {CHALLENGE_BYTES} bytes")
    data = bytes(data)
    if data[:4] != MAGIC:
        raise ProtocolError("bad_challenge", "not a proof-of-work challenge")
    if data[4] != VERSION:
        raise ProtocolError("unsupported_version", "unknown challenge version")
    purpose, difficulty = data[5], data[6]
    if purpose not in BINDING_BYTES:
        raise ProtocolError("bad_challenge", "unknown purpose")
    if difficulty > MAX_DIFFICULTY:
        raise ProtocolError("bad_challenge", f"difficulty is 0 to {MAX_DIFFICULTY} bits")
    (expires,) = struct.unpack(">I", data[7:11])
    return Challenge(purpose, difficulty, expires, data[11:BODY_BYTES], data)


def open_challenge(key: bytes, data: bytes) -> Challenge:
    """A challenge this key made (server side): format, version, then the MAC (`bad_mac`).
    Expiry is the caller's business: it needs the clock."""
    _check_key(key)
    challenge = parse_challenge(data)
    if not secrets.compare_digest(_mac(key, challenge.raw[:BODY_BYTES]), challenge.raw[BODY_BYTES:]):
        raise ProtocolError("bad_mac", "the challenge was not made by this server")
    return challenge


def nonce_bytes(nonce: int) -> bytes:
    """LE64(n) for a counter a JavaScript number holds exactly."""
    if not is_int(nonce) or not 0 <= nonce <= MAX_SAFE_INT:
        raise ProtocolError("bad_nonce", "the counter is an integer from 0 to 2^53 - 1")
    return nonce.to_bytes(8, "little")


def _check_binding(challenge: bytes, binding: bytes) -> None:
    purpose = parse_challenge(challenge).purpose
    if not isinstance(binding, (bytes, bytearray)) or len(binding) != BINDING_BYTES[purpose]:
        raise ProtocolError("bad_binding", f"this purpose binds {BINDING_BYTES[purpose]} bytes")


def work_hash(challenge: bytes, binding: bytes, nonce: int) -> bytes:
    _check_binding(challenge, binding)
    return _blake2b(bytes(challenge) + bytes(binding) + nonce_bytes(nonce), digest_size=32)


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def is_solution(challenge: bytes, binding: bytes, nonce: int) -> bool:
    """True if `nonce` does the challenge's work for this binding (format errors raise)."""
    difficulty = parse_challenge(challenge).difficulty
    return leading_zero_bits(work_hash(challenge, binding, nonce)) >= difficulty


def solve(challenge: bytes, binding: bytes, start: int = 0) -> int:
    """The first counter from `start` up that does the work (tests and tools; the browser
    has its own, sliced so the page stays responsive)."""
    difficulty = parse_challenge(challenge).difficulty
    _check_binding(challenge, binding)
    prefix = bytes(challenge) + bytes(binding)
    for nonce in range(start, MAX_SAFE_INT + 1):
        if leading_zero_bits(_blake2b(prefix + nonce.to_bytes(8, "little"), digest_size=32)) >= difficulty:
            return nonce
    raise ProtocolError("bad_nonce", "no counter up to 2^53 - 1 does the work")


def proof_upload_id(challenge: bytes, nonce: int) -> str:
    """The id of the upload a proof pays for (server side): a proof creates one upload, and
    the same proof again names the same, existing, id."""
    return _blake2b(bytes(challenge) + nonce_bytes(nonce), digest_size=16, key=UPLOAD_ID_LABEL).hex()


CASE_ID = re.compile(r"[0-9a-f]{32}")  # fullmatch: as js/pow.js (bytes.fromhex also takes A-F and spaces)


def _case_id_bytes(case_id: str) -> bytes:
    if not isinstance(case_id, str) or not CASE_ID.fullmatch(case_id):
        raise ProtocolError("bad_binding", "a case id is 32 lower-case hex characters")
    return bytes.fromhex(case_id)


def report_binding(case_id: str) -> bytes:
    """A report's binding: its case id. A replay is refused anyway (`case_exists`)."""
    return _case_id_bytes(case_id)


def followup_binding(case_id: str, envelope: bytes) -> bytes:
    """A follow-up's binding: its case id and the hash of its envelope's bytes."""
    return _case_id_bytes(case_id) + _blake2b(bytes(envelope), digest_size=32)


def upload_binding(resume: bytes) -> bytes:
    """An upload's binding: the resume index of its handle (unique among unfiled uploads)."""
    return bytes.fromhex(resume_index(resume))
