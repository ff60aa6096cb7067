"""crypto.kdf: the keys a case key opens, and libsodium's crypto_kdf_derive_from_key."""

import ctypes
import ctypes.util
import hashlib
import re

import pytest
from hypothesis import given, settings, strategies as st
from nacl.bindings import crypto_box_seed_keypair, crypto_sign_seed_keypair
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from crypto import kdf
from ql_helpers import raises_code

keys16 = st.binary(min_size=16, max_size=16)
keys32 = st.binary(min_size=32, max_size=32)
contexts = st.binary(min_size=8, max_size=8)
subkey_ids = st.integers(min_value=0, max_value=2**64 - 1)


def reference_kdf(master: bytes, subkey_id: int, context: bytes, length: int = 32) -> bytes:
    """libsodium's definition (crypto_kdf/blake2b/kdf_blake2b.c), with hashlib."""
    salt = subkey_id.to_bytes(8, "little") + bytes(8)
    person = context + bytes(8)
    return hashlib.blake2b(b"", digest_size=length, key=master, salt=salt, person=person).digest()


def reference_case_keys(case_key: bytes) -> dict:
    root = hashlib.blake2b(case_key, digest_size=32, key=b"quietline/case-root/v1").digest()
    lookup = reference_kdf(root, 1, b"QLcase01")
    return {
        "lookup": lookup,
        "reply_seed": reference_kdf(root, 2, b"QLcase01"),
        "sign_seed": reference_kdf(root, 3, b"QLcase01"),
        "case_id": hashlib.blake2b(lookup, digest_size=16, key=b"quietline/case-id/v1").hexdigest(),
    }


def _system_libsodium():
    name = ctypes.util.find_library("sodium")
    if not name:
        return None
    try:
        lib = ctypes.CDLL(name)
        if lib.sodium_init() < 0:
            return None
        lib.crypto_kdf_derive_from_key.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_char_p]
        return lib
    except (OSError, AttributeError):
        return None


LIBSODIUM = _system_libsodium()


def test_constants_match_protocol():
    assert kdf.ROOT_LABEL == b"quietline/case-root/v1"
    assert kdf.CASE_ID_LABEL == b"quietline/case-id/v1"
    assert kdf.KDF_CONTEXT == b"QLcase01"
    assert (kdf.LOOKUP_ID, kdf.REPLY_ID, kdf.SIGN_ID) == (1, 2, 3)


@settings(max_examples=200, deadline=None)
@given(keys32, subkey_ids, contexts, st.integers(min_value=16, max_value=64))
def test_kdf_derive_matches_libsodium_definition(master, subkey_id, context, length):
    assert kdf.kdf_derive(master, subkey_id, context, length) == reference_kdf(master, subkey_id, context, length)


@pytest.mark.skipif(LIBSODIUM is None, reason="no system libsodium to compare with")
@settings(max_examples=100, deadline=None)
@given(keys32, subkey_ids, contexts, st.integers(min_value=16, max_value=64))
def test_kdf_derive_matches_real_libsodium(master, subkey_id, context, length):
    out = ctypes.create_string_buffer(length)
    assert LIBSODIUM.crypto_kdf_derive_from_key(out, length, subkey_id, context, master) == 0
    assert kdf.kdf_derive(master, subkey_id, context, length) == out.raw


def test_kdf_derive_known_distinctions():
    master = bytes(range(32))
    a = kdf.kdf_derive(master, 1, b"QLcase01")
    assert len(a) == 32
    assert a == kdf.kdf_derive(master, 1, b"QLcase01")
    assert a != kdf.kdf_derive(master, 2, b"QLcase01")
    assert a != kdf.kdf_derive(master, 1, b"QLcase02")
    assert a != kdf.kdf_derive(bytes(32), 1, b"QLcase01")
    assert a != kdf.kdf_derive(master, 1 << 56, b"QLcase01")  # id is little-endian, all 8 bytes count
    assert len(kdf.kdf_derive(master, 1, b"QLcase01", 16)) == 16
    assert len(kdf.kdf_derive(master, 1, b"QLcase01", 64)) == 64


@pytest.mark.parametrize("master, context", [(bytes(31), b"QLcase01"), (bytes(33), b"QLcase01"), (b"", b"QLcase01"),
                                             (bytes(32), b"QLcase0"), (bytes(32), b"QLcase012"), (bytes(32), b"")])
def test_kdf_derive_refuses_bad_lengths(master, context):
    with raises_code("bad_length"):
        kdf.kdf_derive(master, 1, context)


@settings(max_examples=100, deadline=None)
@given(keys16)
def test_derive_case_keys_matches_protocol(case_key):
    keys = kdf.derive_case_keys(case_key)
    ref = reference_case_keys(case_key)
    assert keys.lookup == ref["lookup"]
    assert (keys.reply_public, keys.reply_secret) == crypto_box_seed_keypair(ref["reply_seed"])
    assert (keys.sign_public, keys.sign_secret) == crypto_sign_seed_keypair(ref["sign_seed"])
    assert kdf.case_id(keys.lookup) == ref["case_id"]


def test_derive_case_keys_is_deterministic_and_consistent():
    case_key = bytes.fromhex("061ee88653484a5bdbb8b89e58c17baa")
    a, b = kdf.derive_case_keys(case_key), kdf.derive_case_keys(case_key)
    assert a == b
    assert len(a.lookup) == 32 and len(a.reply_public) == 32 and len(a.reply_secret) == 32
    assert len(a.sign_public) == 32 and len(a.sign_secret) == 64
    # The pairs are real key pairs.
    assert bytes(PrivateKey(a.reply_secret).public_key) == a.reply_public
    assert bytes(SigningKey(a.sign_secret[:32]).verify_key) == a.sign_public
    assert a.sign_secret[32:] == a.sign_public


@settings(max_examples=100, deadline=None)
@given(keys16)
def test_subkeys_are_distinct(case_key):
    keys = kdf.derive_case_keys(case_key)
    secrets_ = {keys.lookup, keys.reply_public, keys.reply_secret, keys.sign_public, keys.sign_secret[:32],
                bytes.fromhex(kdf.case_id(keys.lookup)) + bytes(16)}
    assert len(secrets_) == 6
    # Nothing derived equals the case key or its unkeyed hash.
    assert case_key not in (k[:16] for k in secrets_)


def test_different_case_keys_give_different_everything():
    a = kdf.derive_case_keys(bytes(16))
    b = kdf.derive_case_keys(bytes(15) + b"\x01")
    for field in ("lookup", "reply_public", "reply_secret", "sign_public", "sign_secret"):
        assert getattr(a, field) != getattr(b, field)
    assert kdf.case_id(a.lookup) != kdf.case_id(b.lookup)


@pytest.mark.parametrize("length", [0, 15, 17, 32])
def test_derive_case_keys_refuses_wrong_length(length):
    with raises_code("bad_length"):
        kdf.derive_case_keys(bytes(length))


@settings(max_examples=100, deadline=None)
@given(keys32)
def test_case_id_format(lookup):
    cid = kdf.case_id(lookup)
    assert re.fullmatch(r"[0-9a-f]{32}", cid)
    assert cid == hashlib.blake2b(lookup, digest_size=16, key=b"quietline/case-id/v1").hexdigest()
    assert cid != lookup[:16].hex()


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_case_id_refuses_wrong_length(length):
    with raises_code("bad_length"):
        kdf.case_id(bytes(length))
