"""crypto.reply: a desk's reply, signed by the desk and sealed to the case's reply key."""

import os
import random

import pytest
from hypothesis import given, settings, strategies as st
from nacl.bindings import crypto_box_seal, crypto_box_seal_open

from crypto import reply as reply_mod, signing
from crypto.encoding import json_bytes
from crypto.errors import ProtocolError
from crypto.padding import MESSAGE_BUCKETS, pad_message, unpad_message
from crypto.reply import STATUSES, Reply, check_framing, open_reply, seal_reply
from ql_helpers import DAY, expect_protocol_error, raises_code


def make_reply(case, desk, **overrides) -> Reply:
    fields = dict(case_id=case.id, seq=1, status="received", text="We received your report.", day=DAY, desk=desk.id)
    fields.update(overrides)
    return Reply(**fields)


def seal_as(desk, reply: Reply, case) -> bytes:
    return seal_reply(reply, desk.public, desk.sign_secret, case.keys.reply_public)


def open_for(blob: bytes, manifest, case) -> Reply:
    return open_reply(blob, manifest, case.keys.reply_public, case.keys.reply_secret, case.id)


def craft(desk, body_bytes: bytes, case, *, signer=None, purpose="reply", padded: bytes | None = None,
          key_id: bytes | None = None) -> bytes:
    """A reply built by hand: what a desk key holder could produce."""
    signer = signer or desk
    if padded is None:
        padded = pad_message(signing.sign(purpose, body_bytes, signer.sign_secret) + body_bytes)
    return b"QLRP\x01" + (key_id or desk.public.key_id) + crypto_box_seal(padded, case.keys.reply_public)


@pytest.fixture(scope="module")
def good(case, desks):
    r = make_reply(case, desks[0])
    return r, seal_as(desks[0], r, case)


# --- round trips -------------------------------------------------------------------------


def test_constants_match_protocol():
    assert reply_mod.MAGIC == b"QLRP" and reply_mod.VERSION == 1
    assert STATUSES == ("received", "assessing", "more_information_needed", "action_under_way",
                        "awaiting_state_reply", "closed")


def test_round_trip(good, verified_manifest, case):
    r, blob = good
    assert open_for(blob, verified_manifest, case) == r


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_and_desk(status, desks, verified_manifest, case):
    for seq, desk in enumerate(desks, start=1):
        r = make_reply(case, desk, status=status, seq=seq * 1000)
        assert open_for(seal_as(desk, r, case), verified_manifest, case) == r


def test_unicode_and_long_text(desks, verified_manifest, case):
    for text in ("", "شكرا — 谢谢 — спасибо 😀", "x" * 5000, "y" * 300_000):
        r = make_reply(case, desks[1], text=text, seq=7)
        blob = seal_as(desks[1], r, case)
        assert len(blob) - 13 - 48 in MESSAGE_BUCKETS
        assert open_for(blob, verified_manifest, case) == r


def test_too_large(desks, case):
    with raises_code("too_large"):
        seal_as(desks[0], make_reply(case, desks[0], text="x" * (1024 * 1024)), case)


def test_layout_matches_protocol(good, desks, case):
    r, blob = good
    assert blob[:4] == b"QLRP" and blob[4] == 1
    assert blob[5:13] == desks[0].public.key_id
    assert check_framing(blob) == desks[0].public.key_id
    assert len(blob) == 13 + 48 + 1024
    padded = crypto_box_seal_open(blob[13:], case.keys.reply_public, case.keys.reply_secret)
    inner = unpad_message(padded)
    body = json_bytes({"v": 1, "kind": "reply", "case_id": case.id, "seq": 1, "status": "received",
                       "text": r.text, "day": DAY, "desk": "desk-1"})
    assert inner[64:] == body == json_bytes(r.body())
    signing.verify("reply", body, inner[:64], desks[0].sign_public)


def test_each_seal_is_fresh(good, desks, case):
    r, blob = good
    assert seal_as(desks[0], r, case) != blob


# --- refusals when sealing ---------------------------------------------------------------


@pytest.mark.parametrize("status", ["", "Received", "open", "closed ", None])
def test_seal_refuses_bad_status(status, desks, case):
    with raises_code("bad_status"):
        seal_as(desks[0], make_reply(case, desks[0], status=status), case)


@pytest.mark.parametrize("seq", [0, -1, -(2**40)])
def test_seal_refuses_bad_sequence(seq, desks, case):
    with raises_code("bad_sequence"):
        seal_as(desks[0], make_reply(case, desks[0], seq=seq), case)


# --- who sent it, who it is for ----------------------------------------------------------


def test_wrong_case_id(desks, verified_manifest, case, other_case):
    r = make_reply(case, desks[0], case_id=other_case.id)
    with raises_code("wrong_case"):
        open_for(seal_as(desks[0], r, case), verified_manifest, case)


def test_reply_resealed_to_another_case(good, verified_manifest, case, other_case):
    # Whoever can open case A's reply can re-seal it to case B: the signed case_id catches it.
    _, blob = good
    padded = crypto_box_seal_open(blob[13:], case.keys.reply_public, case.keys.reply_secret)
    moved = blob[:13] + crypto_box_seal(padded, other_case.keys.reply_public)
    with raises_code("wrong_case"):
        open_for(moved, verified_manifest, other_case)


def test_sealed_to_another_case(good, verified_manifest, other_case):
    with raises_code("decryption_failed"):
        open_for(good[1], verified_manifest, other_case)


def test_desk_not_in_manifest(outsider, verified_manifest, case):
    blob = seal_as(outsider, make_reply(case, outsider), case)
    with raises_code("unknown_desk"):
        open_for(blob, verified_manifest, case)


def test_key_id_of_a_signed_by_b(desks, verified_manifest, case):
    a, b = desks[0], desks[1]
    # Sealed with A's key id but B's signature.
    blob = seal_reply(make_reply(case, a), a.public, b.sign_secret, case.keys.reply_public)
    with raises_code("bad_signature"):
        open_for(blob, verified_manifest, case)
    # B's genuine reply relabelled with A's key id.
    genuine = seal_as(b, make_reply(case, b), case)
    relabelled = genuine[:5] + a.public.key_id + genuine[13:]
    with raises_code("bad_signature"):
        open_for(relabelled, verified_manifest, case)


def test_body_names_another_desk(desks, verified_manifest, case):
    # B signs a body claiming to be A.
    blob = seal_as(desks[1], make_reply(case, desks[0]), case)
    with raises_code("bad_reply"):
        open_for(blob, verified_manifest, case)


def test_signature_made_for_another_purpose(desks, verified_manifest, case):
    body = json_bytes(make_reply(case, desks[0]).body())
    for purpose in ("report", "followup", "manifest", "bundle"):
        with raises_code("bad_signature"):
            open_for(craft(desks[0], body, case, purpose=purpose), verified_manifest, case)


def test_signed_by_root_not_desk(desks, verified_manifest, case, root):
    class RootAsDesk:
        sign_secret = root.secret

    body = json_bytes(make_reply(case, desks[0]).body())
    with raises_code("bad_signature"):
        open_for(craft(desks[0], body, case, signer=RootAsDesk), verified_manifest, case)


# --- tampering and framing ---------------------------------------------------------------


def test_byte_flips(good, verified_manifest, case):
    _, blob = good
    rng = random.Random(3)
    positions = list(range(13)) + [13, 14, 44, 45, 60, len(blob) - 1] + [rng.randrange(13, len(blob)) for _ in range(60)]
    for pos in positions:
        bad = bytearray(blob)
        bad[pos] ^= 1 << rng.randrange(8)
        exc = expect_protocol_error(open_for, bytes(bad), verified_manifest, case)
        assert exc is not None, f"flip at {pos} accepted"
        if pos < 4:
            assert exc.code == "bad_reply"
        elif pos == 4:
            assert exc.code == "unsupported_version"
        elif pos < 13:
            assert exc.code == "unknown_desk"
        else:
            assert exc.code == "decryption_failed"


@pytest.mark.parametrize("magic", [b"QLRQ", b"qlrp", b"QLEN", b"\x00" * 4])
def test_wrong_magic(good, verified_manifest, case, magic):
    blob = magic + good[1][4:]
    with raises_code("bad_reply"):
        check_framing(blob)
    with raises_code("bad_reply"):
        open_for(blob, verified_manifest, case)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_wrong_version(good, verified_manifest, case, version):
    blob = good[1][:4] + bytes([version]) + good[1][5:]
    with raises_code("unsupported_version"):
        check_framing(blob)
    with raises_code("unsupported_version"):
        open_for(blob, verified_manifest, case)


@pytest.mark.parametrize("delta", [-1, 1, -48, 1024, -1024 - 48])
def test_wrong_size(good, verified_manifest, case, delta):
    blob = good[1]
    resized = blob[:delta] if delta < 0 else blob + bytes(delta)
    with raises_code("bad_reply"):
        check_framing(resized)
    with raises_code("bad_reply"):
        open_for(resized, verified_manifest, case)


@pytest.mark.parametrize("length", [0, 4, 5, 12, 13, 14])
def test_too_short(length, good):
    with raises_code("bad_reply"):
        check_framing(good[1][:length])


def test_every_bucket_size_passes_framing():
    for bucket in MESSAGE_BUCKETS:
        assert check_framing(b"QLRP\x01" + b"k" * 8 + bytes(48 + bucket)) == b"k" * 8


def test_grown_to_next_bucket(good, verified_manifest, case):
    grown = good[1] + bytes(4096 - 1024)
    assert check_framing(grown)
    with raises_code("decryption_failed"):
        open_for(grown, verified_manifest, case)


# --- malformed bodies a desk could sign --------------------------------------------------


def _body(case, signer, changes: dict) -> bytes:
    body = make_reply(case, signer).body()
    for key, value in changes.items():
        if value is KeyError:
            del body[key]
        else:
            body[key] = value
    return json_bytes(body)


@pytest.mark.parametrize("changes", [
    {"v": 2}, {"v": "1"}, {"v": KeyError}, {"kind": "report"}, {"kind": KeyError},
    {"seq": 0}, {"seq": -3}, {"seq": "1"}, {"seq": KeyError}, {"seq": None},
    {"status": "unknown"}, {"status": KeyError}, {"text": 5}, {"text": None}, {"text": KeyError},
    {"desk": "desk-2"}, {"desk": KeyError},
    {"v": True}, {"seq": True}, {"day": "2026-1-01"}, {"day": "2026-11-23\n"}, {"day": "٢٠٢٦-١١-٢٣"},
    {"day": 20261123}, {"day": None}, {"day": KeyError},
])
def test_malformed_signed_body(desks, verified_manifest, case, changes):
    with raises_code("bad_reply"):
        open_for(craft(desks[0], _body(case, desks[0], changes), case), verified_manifest, case)


@pytest.mark.parametrize("old, new", [(b'"seq":1,', b'"seq":1.0,'), (b'"seq":1,', b'"seq":9007199254740992,'),
                                      (b'"v":1}', b'"v":1e0}')])
def test_signed_body_with_non_integer_numbers(desks, verified_manifest, case, old, new):
    body = _body(case, desks[0], {})
    assert body.count(old) == 1
    with raises_code("bad_json"):
        open_for(craft(desks[0], body.replace(old, new), case), verified_manifest, case)


@pytest.mark.parametrize("seq", [True, 1.0, "1", None])
def test_seal_refuses_non_integer_sequence(seq, desks, case):
    with raises_code("bad_sequence"):
        seal_as(desks[0], make_reply(case, desks[0], seq=seq), case)


def test_signed_body_missing_case_id(desks, verified_manifest, case):
    with raises_code("wrong_case"):
        open_for(craft(desks[0], _body(case, desks[0], {"case_id": KeyError}), case), verified_manifest, case)


@pytest.mark.parametrize("body_bytes", [b"", b"nope", b"[]", b"\xff", b'{"v":' + b"1" * 5000 + b"}",
                                        b'{"v":' + b"[" * 50000 + b"]" * 50000 + b"}"])
def test_signed_body_not_json(desks, verified_manifest, case, body_bytes):
    with raises_code("bad_json"):
        open_for(craft(desks[0], body_bytes, case), verified_manifest, case)


@pytest.mark.parametrize("padded", [bytes(1024), b"\x01" * 1024, b"abc\x80" + bytes(1019) + b"\x02"])
def test_bad_padding_inside(desks, verified_manifest, case, padded):
    with raises_code("bad_padding"):
        open_for(craft(desks[0], b"", case, padded=padded), verified_manifest, case)


@pytest.mark.parametrize("inner_length", [0, 1, 63])
def test_inner_too_short_for_a_signature(desks, verified_manifest, case, inner_length):
    with raises_code("bad_signature"):
        open_for(craft(desks[0], b"", case, padded=pad_message(b"s" * inner_length)), verified_manifest, case)


# --- arbitrary input ---------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_only_raise_protocol_error(data):
    with pytest.raises(ProtocolError):
        open_for(data, _FIXED["manifest"], _FIXED["case"])
    try:
        check_framing(data)
    except ProtocolError as exc:
        assert exc.code in ("bad_reply", "unsupported_version")


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(MESSAGE_BUCKETS[:3]), st.integers(0, 2))
def test_random_sealed_part_only_raises_decryption_failed(bucket, desk_index):
    desk = _FIXED["desks"][desk_index]
    blob = b"QLRP\x01" + desk.public.key_id + os.urandom(48 + bucket)
    with raises_code("decryption_failed"):
        open_for(blob, _FIXED["manifest"], _FIXED["case"])


@pytest.fixture(autouse=True, scope="module")
def _fixed(verified_manifest, case, desks):
    # Hypothesis tests cannot take function fixtures; share the module's through a dict.
    _FIXED.update(manifest=verified_manifest, case=case, desks=desks)
    yield
    _FIXED.clear()


_FIXED: dict = {}
