"""Proof of work on intake, follow-ups and upload creation (docs/PROTOCOL.md, "Proof of work").

Stateless: a challenge is signed with the deployment's proof-of-work key and checked again
when it comes back; nothing is stored or logged per challenge. The key lives in a file
(`pow_key_file`) so that every worker of a deployment, and the same worker after a restart,
accepts the challenges any of them issued.

Difficulty rises with load. Each worker counts, in memory only, the proofs spent in the last
60 seconds (a proof is spent when the request it paid for succeeded, so replaying one proof
for an existing case cannot push everyone's difficulty up); while that count is above
`pow_load_per_minute`, one bit is added, and one more at each doubling, up to
`pow_max_bits`. When the load drops, so does the difficulty. Each worker estimates its own
load: with N workers the deployment's threshold is about N × pow_load_per_minute.
"""

from __future__ import annotations

import math
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crypto import pow as pw
from crypto.encoding import b64decode
from crypto.errors import ProtocolError

from ..errors import ApiError

WINDOW_SECONDS = 60


def pow_required() -> ApiError:
    return ApiError(400, "pow_required", "this request needs a proof of work: GET /api/v1/pow")


def pow_invalid(message: str) -> ApiError:
    return ApiError(400, "pow_invalid", message)


def pow_expired(message: str) -> ApiError:
    return ApiError(400, "pow_expired", message)


def load_or_create_key(path: Path) -> bytes:
    """The 32-byte key in `path`, created (mode 0600, 32 random bytes) if absent. Workers
    starting at once agree: the file appears whole or not at all (written aside, then linked
    into place, which fails if another worker got there first)."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_bytes(pw.KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(staged, path)
        except FileExistsError:
            pass  # another worker made it first: use theirs
        finally:
            staged.unlink()
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise RuntimeError(f"cannot read the proof-of-work key file {path}") from exc
    if len(key) != pw.KEY_BYTES:
        raise RuntimeError(f"the proof-of-work key file {path} must hold exactly {pw.KEY_BYTES} bytes")
    return key


class LoadMeter:
    """Proofs spent in the last 60 seconds, in one-second buckets (constant memory whatever
    the flood). Monotonic clock; never stored or logged."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self.monotonic = monotonic
        self._seconds = [-1] * WINDOW_SECONDS
        self._counts = [0] * WINDOW_SECONDS
        self._lock = threading.Lock()

    def add(self) -> None:
        second = int(self.monotonic())
        slot = second % WINDOW_SECONDS
        with self._lock:
            if self._seconds[slot] != second:
                self._seconds[slot], self._counts[slot] = second, 0
            self._counts[slot] += 1

    def per_minute(self) -> int:
        now = int(self.monotonic())
        with self._lock:
            return sum(c for s, c in zip(self._seconds, self._counts) if now - WINDOW_SECONDS < s <= now)


def extra_bits(rate: int, threshold: int) -> int:
    """0 up to the threshold; then 1, and one more at each doubling: above 2× → 2, 4× → 3 …"""
    bits = 0
    while rate > threshold << bits:
        bits += 1
    return bits


@dataclass(frozen=True)
class Issued:
    challenge: bytes
    difficulty: int
    expires_in: int  # seconds


@dataclass(frozen=True)
class Verified:
    challenge: bytes
    nonce: int

    @property
    def upload_id(self) -> str:
        """The id of the upload this proof pays for: one proof, one upload (PROTOCOL.md)."""
        return pw.proof_upload_id(self.challenge, self.nonce)


class ProofOfWork:
    def __init__(
        self,
        key: bytes,
        *,
        base_bits: int,
        max_bits: int,
        load_per_minute: int,
        lifetime_minutes: int,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.key = key
        self.base_bits = base_bits
        self.max_bits = max_bits
        self.load_per_minute = load_per_minute
        self.lifetime_minutes = lifetime_minutes
        self.clock = clock  # wall time, for expiry only; tests replace it
        self.load = LoadMeter(monotonic)

    @classmethod
    def from_settings(cls, settings) -> ProofOfWork:
        return cls(
            load_or_create_key(settings.pow_key_file),
            base_bits=settings.pow_bits,
            max_bits=settings.pow_max_bits,
            load_per_minute=settings.pow_load_per_minute,
            lifetime_minutes=settings.pow_lifetime_minutes,
        )

    def difficulty(self) -> int:
        return min(self.max_bits, self.base_bits + extra_bits(self.load.per_minute(), self.load_per_minute))

    def issue(self, purpose: int) -> Issued:
        now = self.clock()
        # Whole minutes on the wire; at least the lifetime from now.
        expires = math.ceil(now / 60) + self.lifetime_minutes
        difficulty = self.difficulty()
        challenge = pw.make_challenge(self.key, purpose, difficulty, expires)
        return Issued(challenge, difficulty, int(expires * 60 - now))

    def check(self, proof, purpose: int, binding: Callable[[], bytes]) -> Verified:
        """Raise pow_required / pow_invalid / pow_expired unless `proof` pays for this
        request; `binding()` gives the bytes it must be bound to (and may itself refuse the
        request with its own error, e.g. a malformed lookup)."""
        if proof is None:
            raise pow_required()
        try:
            raw = b64decode(proof.challenge, field="challenge", length=pw.CHALLENGE_BYTES)
            challenge = pw.open_challenge(self.key, raw)
        except ProtocolError:
            raise pow_invalid("the challenge is malformed or was not made by this server") from None
        if challenge.purpose != purpose:
            raise pow_invalid("the challenge was issued for another kind of request")
        if self.clock() >= challenge.expires * 60:
            raise pow_expired("the challenge has expired: fetch a new one")
        if challenge.difficulty < self.difficulty() - 1:
            raise pow_expired("the server asks for more work now: fetch a new challenge")
        try:
            solved = pw.is_solution(raw, binding(), proof.nonce)
        except ProtocolError:
            raise pow_invalid("the nonce is not an integer from 0 to 2^53 - 1") from None  # bad_nonce
        if not solved:
            raise pow_invalid("the proof is not bound to this request or does too little work")
        return Verified(raw, proof.nonce)

    def spent(self) -> None:
        """The request a proof paid for succeeded: count it toward the load."""
        self.load.add()
