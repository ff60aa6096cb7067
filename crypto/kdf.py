"""Everything a case key opens, derived with domain separation (docs/PROTOCOL.md, "Key derivation")."""

from dataclasses import dataclass

from nacl.bindings import (
    crypto_box_seed_keypair,
    crypto_generichash_blake2b_salt_personal as _blake2b,
    crypto_sign_seed_keypair,
)

from .errors import ProtocolError

ROOT_LABEL = b"quietline/case-root/v1"
CASE_ID_LABEL = b"quietline/case-id/v1"
KDF_CONTEXT = b"QLcase01"
LOOKUP_ID, REPLY_ID, SIGN_ID = 1, 2, 3


def kdf_derive(master: bytes, subkey_id: int, context: bytes, length: int = 32) -> bytes:
    """libsodium's crypto_kdf_derive_from_key, which PyNaCl does not bind.

    libsodium defines it as keyed BLAKE2b of the empty message with salt = LE64(id) || 0^8
    and personal = context || 0^8; the shared vectors prove both sides agree.
    """
    if len(master) != 32 or len(context) != 8:
        raise ProtocolError("bad_length", "kdf needs a 32-byte key and an 8-byte context")
    salt = subkey_id.to_bytes(8, "little") + bytes(8)
    return _blake2b(b"", digest_size=length, key=master, salt=salt, person=context + bytes(8))


@dataclass(frozen=True)
class CaseKeys:
    lookup: bytes  # sent to the server to find the case; the server keeps only case_id(lookup)
    reply_public: bytes  # X25519: replies are sealed to it
    reply_secret: bytes
    sign_public: bytes  # Ed25519: signs the submitter's report and follow-ups
    sign_secret: bytes


def derive_case_keys(case_key: bytes) -> CaseKeys:
    if len(case_key) != 16:
        raise ProtocolError("bad_length", "a case key has 16 bytes")
    root = _blake2b(case_key, digest_size=32, key=ROOT_LABEL)
    lookup = kdf_derive(root, LOOKUP_ID, KDF_CONTEXT)
    reply_pk, reply_sk = crypto_box_seed_keypair(kdf_derive(root, REPLY_ID, KDF_CONTEXT))
    sign_pk, sign_sk = crypto_sign_seed_keypair(kdf_derive(root, SIGN_ID, KDF_CONTEXT))
    return CaseKeys(lookup, reply_pk, reply_sk, sign_pk, sign_sk)


def case_id(lookup: bytes) -> str:
    """The case's public index: a one-way hash of the lookup token (32 hex characters).

    The server stores only this, so a seized database cannot be used to read replies or
    to pose as the submitter; the client puts it inside the signed report, so the server
    cannot relabel one case as another."""
    if len(lookup) != 32:
        raise ProtocolError("bad_length", "a lookup token has 32 bytes")
    return _blake2b(lookup, digest_size=16, key=CASE_ID_LABEL).hex()
