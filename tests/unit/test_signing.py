"""crypto.signing: Ed25519 with a purpose label, so no signature crosses purposes."""

import itertools

import pytest
from hypothesis import given, settings, strategies as st
from nacl.bindings import crypto_sign_keypair
from nacl.signing import VerifyKey

from crypto import signing
from ql_helpers import raises_code


@pytest.fixture(scope="module")
def keypair():
    return crypto_sign_keypair()


@pytest.fixture(scope="module")
def other_keypair():
    return crypto_sign_keypair()


def test_purposes_match_protocol():
    assert signing.PURPOSES == ("report", "followup", "reply", "manifest", "bundle")
    assert signing.SIGNATURE_BYTES == 64


@pytest.mark.parametrize("purpose", signing.PURPOSES)
def test_sign_verify_round_trip(keypair, purpose):
    pk, sk = keypair
    sig = signing.sign(purpose, b"some data", sk)
    assert len(sig) == 64
    signing.verify(purpose, b"some data", sig, pk)


@pytest.mark.parametrize("purpose", signing.PURPOSES)
def test_signature_is_over_label_newline_data(keypair, purpose):
    pk, sk = keypair
    data = b"\x00payload\xff"
    sig = signing.sign(purpose, data, sk)
    # Plain Ed25519 over "quietline:v1:" || purpose || "\n" || data, as PROTOCOL.md says.
    VerifyKey(pk).verify(b"quietline:v1:" + purpose.encode() + b"\n" + data, sig)
    with pytest.raises(Exception):
        VerifyKey(pk).verify(data, sig)  # never over the bare data


@pytest.mark.parametrize("made_for, checked_as", list(itertools.permutations(signing.PURPOSES, 2)))
def test_purpose_separation(keypair, made_for, checked_as):
    pk, sk = keypair
    sig = signing.sign(made_for, b"the same bytes", sk)
    with raises_code("bad_signature"):
        signing.verify(checked_as, b"the same bytes", sig, pk)


def test_label_cannot_be_shifted_into_data(keypair):
    # "report" + "\nX" must not collide with another purpose's framing: data is after "\n".
    pk, sk = keypair
    sig = signing.sign("report", b"x", sk)
    with raises_code("bad_signature"):
        signing.verify("reply", b"x", sig, pk)
    with raises_code("bad_signature"):
        signing.verify("report", b"\nx", sig, pk)


def test_wrong_key(keypair, other_keypair):
    _, sk = keypair
    other_pk, _ = other_keypair
    sig = signing.sign("report", b"data", sk)
    with raises_code("bad_signature"):
        signing.verify("report", b"data", sig, other_pk)


def test_wrong_data(keypair):
    pk, sk = keypair
    sig = signing.sign("reply", b"data", sk)
    for data in (b"", b"Data", b"data\x00", b"dat"):
        with raises_code("bad_signature"):
            signing.verify("reply", data, sig, pk)


@pytest.mark.parametrize("length", [0, 1, 32, 63, 65, 128])
def test_bad_signature_length(keypair, length):
    pk, sk = keypair
    sig = signing.sign("bundle", b"data", sk)
    with raises_code("bad_signature"):
        signing.verify("bundle", b"data", (sig * 3)[:length], pk)


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_bad_public_key_length(keypair, length):
    _, sk = keypair
    sig = signing.sign("bundle", b"data", sk)
    with raises_code("bad_signature"):
        signing.verify("bundle", b"data", sig, bytes(length))


def test_every_bit_flip_in_signature_fails(keypair):
    pk, sk = keypair
    sig = signing.sign("manifest", b"data", sk)
    for i in range(64):
        for bit in (0x01, 0x80):
            bad = bytearray(sig)
            bad[i] ^= bit
            with raises_code("bad_signature"):
                signing.verify("manifest", b"data", bytes(bad), pk)


def test_unknown_purpose_is_a_programming_error(keypair):
    pk, sk = keypair
    with pytest.raises(ValueError):
        signing.sign("login", b"x", sk)
    sig = signing.sign("report", b"x", sk)
    with pytest.raises(ValueError):
        signing.verify("Report", b"x", sig, pk)


def test_sign_is_deterministic(keypair):
    _, sk = keypair
    assert signing.sign("report", b"x", sk) == signing.sign("report", b"x", sk)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(signing.PURPOSES))
def test_round_trip_random(data, purpose):
    pk, sk = crypto_sign_keypair()
    sig = signing.sign(purpose, data, sk)
    signing.verify(purpose, data, sig, pk)


@settings(max_examples=100, deadline=None)
@given(st.binary(), st.binary(max_size=80), st.binary(max_size=40))
def test_random_inputs_only_raise_bad_signature(data, sig, pk):
    with raises_code("bad_signature"):
        signing.verify("report", data, sig, pk)
