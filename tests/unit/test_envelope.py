"""crypto.envelope: reports and follow-ups, signed by the case key, encrypted to every desk."""

import os
import random
import secrets

import pytest
from hypothesis import given, settings, strategies as st
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_box_seal,
    crypto_box_seal_open,
)

from crypto import envelope, signing
from crypto.desk import DeskKeys
from crypto.encoding import json_bytes
from crypto.envelope import open_envelope, parse_header, seal
from crypto.errors import ProtocolError
from crypto.padding import MESSAGE_BUCKETS, pad_message
from ql_helpers import DAY, expect_protocol_error, make_case, raises_code

ENTRY = 88


def report_body(case, text="Something happened.", attachments=()) -> dict:
    return {
        "v": 1, "kind": "report", "case_id": case.id, "day": DAY, "lang": "en",
        "reply_pk": envelope_b64(case.keys.reply_public), "sign_pk": envelope_b64(case.keys.sign_public),
        "report": {"schema": "quietline.report/2", "country": "SY", "text": text},
        "attachments": list(attachments),
    }


def followup_body(case, text="More details.") -> dict:
    return {"v": 1, "kind": "followup", "case_id": case.id, "id": secrets.token_hex(16), "day": DAY,
            "text": text, "attachments": []}


def envelope_b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def craft(inner_padded: bytes, desks, *, kind_byte=1, version=1, magic=b"QLEN", count=None) -> bytes:
    """Build an envelope by hand around any padded plaintext: what a malicious submitter
    (who has every key involved) could send."""
    data_key = secrets.token_bytes(32)
    header = magic + bytes([version, kind_byte, len(desks) if count is None else count])
    for desk in desks:
        header += desk.public.key_id + crypto_box_seal(data_key, desk.box_public)
    nonce = secrets.token_bytes(24)
    header += nonce
    return header + crypto_aead_xchacha20poly1305_ietf_encrypt(inner_padded, header, nonce, data_key)


def open_as(env: bytes, desk: DeskKeys):
    return open_envelope(env, desk.public, desk.box_secret)


@pytest.fixture(scope="module")
def report(case, desks):
    body = report_body(case)
    return body, seal("report", body, case.keys.sign_secret, tuple(d.public for d in desks))


@pytest.fixture(scope="module")
def followup(case, desks):
    body = followup_body(case)
    return body, seal("followup", body, case.keys.sign_secret, tuple(d.public for d in desks))


# --- round trips -------------------------------------------------------------------------


def test_report_opens_for_every_desk(report, desks, case):
    body, env = report
    for desk in desks:
        opened = open_as(env, desk)
        assert opened.kind == "report"
        assert opened.body == body
        assert opened.body_bytes == json_bytes(body)
        assert len(opened.signature) == 64
        opened.verify(case.keys.sign_public)
        signing.verify("report", opened.body_bytes, opened.signature, case.keys.sign_public)


def test_followup_opens_for_every_desk(followup, desks, case):
    body, env = followup
    for desk in desks:
        opened = open_as(env, desk)
        assert opened.kind == "followup" and opened.body == body
        opened.verify(case.keys.sign_public)


def test_layout_matches_protocol(report, desks):
    body, env = report
    n = len(desks)
    assert env[:4] == b"QLEN" and env[4] == 1 and env[5] == 1 and env[6] == n
    header_length = 7 + n * ENTRY + 24
    header = parse_header(env)
    assert header.kind == "report"
    assert header.recipients == tuple(d.public.key_id for d in desks)
    assert header.header_length == header_length and header.total_length == len(env)
    assert len(env) - header_length - 16 in MESSAGE_BUCKETS
    # Decrypt by hand, following PROTOCOL.md only.
    for i, desk in enumerate(desks):
        entry = env[7 + i * ENTRY : 7 + (i + 1) * ENTRY]
        assert entry[:8] == desk.public.key_id
        data_key = crypto_box_seal_open(entry[8:], desk.box_public, desk.box_secret)
        assert len(data_key) == 32
        aad = env[:header_length]
        padded = crypto_aead_xchacha20poly1305_ietf_decrypt(env[header_length:], aad, aad[-24:], data_key)
        assert padded == pad_message(padded[: padded.rindex(b"\x80")])
        inner = padded[: padded.rindex(b"\x80")]
        assert inner[64:] == json_bytes(body)


def test_kind_byte(followup):
    assert followup[1][5] == 2
    assert parse_header(followup[1]).kind == "followup"


def test_each_seal_is_fresh(case, desks):
    body = report_body(case)
    a = seal("report", body, case.keys.sign_secret, (desks[0].public,))
    b = seal("report", body, case.keys.sign_secret, (desks[0].public,))
    assert a != b and len(a) == len(b)
    assert a[7 + 8 : 7 + ENTRY] != b[7 + 8 : 7 + ENTRY]  # sealed keys differ
    assert a[7 + ENTRY : 7 + ENTRY + 24] != b[7 + ENTRY : 7 + ENTRY + 24]  # nonces differ


@pytest.mark.parametrize("text_length, bucket", [(0, 1024), (2000, 4096), (10_000, 16384), (60_000, 65536),
                                                 (200_000, 262144), (900_000, 1048576)])
def test_size_is_a_bucket(case, desks, text_length, bucket):
    body = report_body(case, text="x" * text_length)
    env = seal("report", body, case.keys.sign_secret, (desks[0].public,))
    assert len(env) == 7 + ENTRY + 24 + bucket + 16
    assert open_as(env, desks[0]).body == body


def test_too_large(case, desks):
    with raises_code("too_large"):
        seal("report", report_body(case, text="x" * (1024 * 1024)), case.keys.sign_secret, (desks[0].public,))


def test_unicode_body(case, desks):
    body = report_body(case, text="تقرير — 报告 — отчёт — rapport 😀")
    env = seal("report", body, case.keys.sign_secret, (desks[0].public,))
    assert open_as(env, desks[0]).body == body


def test_sixteen_recipients(case):
    many = [DeskKeys.generate(f"d{i}", "D") for i in range(16)]
    env = seal("report", report_body(case), case.keys.sign_secret, tuple(d.public for d in many))
    assert parse_header(env).recipients == tuple(d.public.key_id for d in many)
    for desk in (many[0], many[7], many[15]):
        assert open_as(env, desk).kind == "report"


@pytest.mark.parametrize("n", [0, 17])
def test_seal_refuses_recipient_count(case, n):
    desks = tuple(DeskKeys.generate(f"d{i}", "D").public for i in range(n))
    with raises_code("bad_recipients"):
        seal("report", report_body(case), case.keys.sign_secret, desks)


def test_seal_refuses_a_desk_twice(case, desks):
    # parse_header would refuse the envelope: each recipient is named once.
    with raises_code("bad_recipients"):
        seal("report", report_body(case), case.keys.sign_secret, (desks[0].public, desks[1].public, desks[0].public))


def test_seal_refuses_unknown_kind(case, desks):
    with pytest.raises(ValueError):
        seal("reply", report_body(case), case.keys.sign_secret, (desks[0].public,))


# --- who can open ------------------------------------------------------------------------


def test_non_recipient(report, outsider):
    with raises_code("not_a_recipient"):
        open_as(report[1], outsider)


def test_recipient_subset(case, desks):
    env = seal("report", report_body(case), case.keys.sign_secret, (desks[1].public,))
    assert open_as(env, desks[1]).kind == "report"
    for desk in (desks[0], desks[2]):
        with raises_code("not_a_recipient"):
            open_as(env, desk)


def test_right_key_id_wrong_secret(report, desks):
    with raises_code("decryption_failed"):
        open_envelope(report[1], desks[0].public, desks[1].box_secret)


# --- tampering ---------------------------------------------------------------------------


def _expected_header_codes(pos: int, n: int, opener_index: int) -> set[str]:
    if pos < 4:
        return {"bad_envelope"}
    if pos == 4:
        return {"unsupported_version"}
    if pos == 5:
        return {"bad_envelope", "decryption_failed"}  # unknown kind, or the other kind (AEAD ad)
    if pos == 6:
        return {"bad_recipients", "bad_envelope"}
    entry, offset = divmod(pos - 7, ENTRY)
    if entry == opener_index and offset < 8:
        return {"not_a_recipient"}
    return {"decryption_failed"}


def test_every_header_byte_flip_fails(report, desks):
    _, env = report
    n = len(desks)
    header_length = 7 + n * ENTRY + 24
    for opener_index, desk in enumerate(desks):
        for pos in range(header_length):
            for mask in (0x01, 0x80, 0xFF):
                bad = bytearray(env)
                bad[pos] ^= mask
                exc = expect_protocol_error(open_as, bytes(bad), desk)
                assert exc is not None, f"flip {mask:#x} at {pos} opened for desk {opener_index}"
                assert exc.code in _expected_header_codes(pos, n, opener_index), (pos, mask, exc.code)


def test_ciphertext_byte_flips_fail(report, desks):
    _, env = report
    header_length = 7 + len(desks) * ENTRY + 24
    rng = random.Random(5)
    positions = {header_length, header_length + 1, len(env) - 17, len(env) - 16, len(env) - 1}
    positions |= {rng.randrange(header_length, len(env)) for _ in range(150)}
    for pos in sorted(positions):
        bad = bytearray(env)
        bad[pos] ^= 1 << rng.randrange(8)
        with raises_code("decryption_failed"):
            open_as(bytes(bad), desks[pos % len(desks)])


@pytest.mark.parametrize("cut", [0, 1, 3, 6, 7, 100, 7 + ENTRY, 7 + 3 * ENTRY + 24, 7 + 3 * ENTRY + 24 + 1024])
def test_truncated_to(report, desks, cut):
    with raises_code("bad_envelope"):
        open_as(report[1][:cut], desks[0])
    with raises_code("bad_envelope"):
        parse_header(report[1][:cut])


@pytest.mark.parametrize("drop", [1, 15, 16, 17, 1023])
def test_truncated_by(report, desks, drop):
    with raises_code("bad_envelope"):
        open_as(report[1][:-drop], desks[0])


def test_extended(report, desks):
    for extra in (b"\x00", b"\x00" * 16, bytes(1024)):
        with raises_code("bad_envelope"):
            open_as(report[1] + extra, desks[0])


def test_extended_to_next_bucket_fails_authentication(report, desks):
    # Padding the ciphertext out to the next bucket passes the framing, never the AEAD.
    env = report[1]
    grown = env + bytes(4096 - 1024)
    assert parse_header(grown).total_length == len(grown)
    with raises_code("decryption_failed"):
        open_as(grown, desks[0])


@pytest.mark.parametrize("magic", [b"QLEM", b"qlen", b"QLRP", b"\x00\x00\x00\x00"])
def test_wrong_magic(report, desks, magic):
    env = magic + report[1][4:]
    with raises_code("bad_envelope"):
        parse_header(env)
    with raises_code("bad_envelope"):
        open_as(env, desks[0])


@pytest.mark.parametrize("version", [0, 2, 255])
def test_wrong_version(report, desks, version):
    env = report[1][:4] + bytes([version]) + report[1][5:]
    with raises_code("unsupported_version"):
        parse_header(env)
    with raises_code("unsupported_version"):
        open_as(env, desks[0])


@pytest.mark.parametrize("kind", [0, 3, 255])
def test_unknown_kind(report, desks, kind):
    env = report[1][:5] + bytes([kind]) + report[1][6:]
    with raises_code("bad_envelope"):
        parse_header(env)


def test_kind_byte_changed_to_the_other_kind(report, followup, desks):
    as_followup = report[1][:5] + b"\x02" + report[1][6:]
    assert parse_header(as_followup).kind == "followup"  # framing cannot tell...
    with raises_code("decryption_failed"):  # ...but the kind is authenticated
        open_as(as_followup, desks[0])
    as_report = followup[1][:5] + b"\x01" + followup[1][6:]
    with raises_code("decryption_failed"):
        open_as(as_report, desks[0])


def test_expect_kind(report, followup):
    assert parse_header(report[1], expect_kind="report").kind == "report"
    assert parse_header(followup[1], expect_kind="followup").kind == "followup"
    with raises_code("wrong_kind"):
        parse_header(report[1], expect_kind="followup")
    with raises_code("wrong_kind"):
        parse_header(followup[1], expect_kind="report")


@pytest.mark.parametrize("count", [0, 17, 255])
def test_bad_recipient_count(report, count):
    env = report[1][:6] + bytes([count]) + report[1][7:]
    with raises_code("bad_recipients"):
        parse_header(env)


def test_recipient_count_mismatch_breaks_framing(report):
    for count in (1, 2, 4, 16):
        env = report[1][:6] + bytes([count]) + report[1][7:]
        with raises_code("bad_envelope"):
            parse_header(env)


def test_recipient_entry_swapped_between_envelopes(case, desks):
    body = report_body(case)
    recipients = tuple(d.public for d in desks)
    a = seal("report", body, case.keys.sign_secret, recipients)
    b = seal("report", body, case.keys.sign_secret, recipients)
    for i, desk in enumerate(desks):
        start, end = 7 + i * ENTRY, 7 + (i + 1) * ENTRY
        mixed = b[:start] + a[start:end] + b[end:]
        with raises_code("decryption_failed"):
            open_as(mixed, desk)
        # Other desks' entries are authenticated as additional data too.
        other = desks[(i + 1) % len(desks)]
        with raises_code("decryption_failed"):
            open_as(mixed, other)


def test_header_and_body_of_different_envelopes(case, desks):
    recipients = tuple(d.public for d in desks)
    a = seal("report", report_body(case), case.keys.sign_secret, recipients)
    b = seal("report", report_body(case), case.keys.sign_secret, recipients)
    h = 7 + len(desks) * ENTRY + 24
    with raises_code("decryption_failed"):
        open_as(a[:h] + b[h:], desks[0])


def test_recipient_dropped(case, desks):
    # Removing a recipient entry (and fixing the count) changes the additional data.
    env = seal("report", report_body(case), case.keys.sign_secret, tuple(d.public for d in desks))
    dropped = env[:6] + bytes([2]) + env[7 : 7 + 2 * ENTRY] + env[7 + 3 * ENTRY :]
    assert parse_header(dropped).recipients == (desks[0].public.key_id, desks[1].public.key_id)
    with raises_code("decryption_failed"):
        open_as(dropped, desks[0])


# --- signature and body ------------------------------------------------------------------


def test_signature_with_wrong_case_key(report, desks, other_case):
    opened = open_as(report[1], desks[0])
    with raises_code("bad_signature"):
        opened.verify(other_case.keys.sign_public)


def test_followup_signed_by_another_case(case, other_case, desks):
    env = seal("followup", followup_body(case), other_case.keys.sign_secret, (desks[0].public,))
    opened = open_as(env, desks[0])
    with raises_code("bad_signature"):
        opened.verify(case.keys.sign_public)  # the report's key
    opened.verify(other_case.keys.sign_public)


def test_report_signature_is_not_a_followup_signature(case, desks):
    # A signature made for a report, wrapped in a follow-up envelope, does not verify.
    body = followup_body(case)
    inner = signing.sign("report", json_bytes(body), case.keys.sign_secret) + json_bytes(body)
    env = craft(pad_message(inner), desks[:1], kind_byte=2)
    opened = open_as(env, desks[0])
    assert opened.kind == "followup"
    with raises_code("bad_signature"):
        opened.verify(case.keys.sign_public)


def test_signature_covers_body_bytes(case, desks):
    body = report_body(case)
    sig = signing.sign("report", json_bytes(body), case.keys.sign_secret)
    changed = dict(body, day="2020-01-01")
    env = craft(pad_message(sig + json_bytes(changed)), desks[:1])
    opened = open_as(env, desks[0])
    with raises_code("bad_signature"):
        opened.verify(case.keys.sign_public)


def test_body_kind_mismatch(case, desks):
    env = seal("followup", report_body(case), case.keys.sign_secret, (desks[0].public,))
    with raises_code("wrong_kind"):
        open_as(env, desks[0])
    env = seal("report", followup_body(case), case.keys.sign_secret, (desks[0].public,))
    with raises_code("wrong_kind"):
        open_as(env, desks[0])
    body = report_body(case)
    del body["kind"]
    env = seal("report", body, case.keys.sign_secret, (desks[0].public,))
    with raises_code("wrong_kind"):
        open_as(env, desks[0])


def test_crafted_good_envelope_opens(case, desks):
    body = report_body(case)
    inner = signing.sign("report", json_bytes(body), case.keys.sign_secret) + json_bytes(body)
    opened = open_as(craft(pad_message(inner), desks[:2]), desks[1])
    assert opened.body == body
    opened.verify(case.keys.sign_public)


@pytest.mark.parametrize("padded", [bytes(1024), b"x" * 1024, b"abc\x80" + bytes(1019) + b"\x01"])
def test_bad_padding_inside(desks, padded):
    with raises_code("bad_padding"):
        open_as(craft(padded, desks[:1]), desks[0])


@pytest.mark.parametrize("inner_length", [0, 1, 63])
def test_body_too_short(desks, inner_length):
    with raises_code("bad_envelope"):
        open_as(craft(pad_message(b"s" * inner_length), desks[:1]), desks[0])


@pytest.mark.parametrize("body_bytes", [b"", b"not json", b"[1,2]", b"\xff\xfe", b'{"kind": "report"',
                                        b'{"kind": "report", "n": ' + b"9" * 5000 + b"}",
                                        b'{"kind": "report", "n": ' + b"[" * 50000 + b"]" * 50000 + b"}",
                                        b'{"kind": "report", "n": 1.5}', b'{"kind": "report", "n": NaN}',
                                        b'{"kind": "report", "n": 9007199254740992}'])
def test_body_not_json(desks, body_bytes):
    # The body comes from an anonymous submitter: hostile JSON must be a ProtocolError.
    with raises_code("bad_json"):
        open_as(craft(pad_message(bytes(64) + body_bytes), desks[:1]), desks[0])


# --- arbitrary input ---------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_header_random_bytes(data):
    with pytest.raises(ProtocolError):
        parse_header(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.integers(0, 4000))
def test_parse_header_random_framing(version, kind, count, size):
    data = b"QLEN" + bytes([version, kind, count]) + os.urandom(size)
    try:
        header = parse_header(data)
    except ProtocolError as exc:
        assert exc.code in ("unsupported_version", "bad_envelope", "bad_recipients")
    else:
        assert version == 1 and kind in (1, 2) and 1 <= count <= 16
        assert len(data) - header.header_length - 16 in MESSAGE_BUCKETS


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3), st.binary(min_size=0, max_size=64))
def test_open_random_envelopes(count, noise):
    # Right framing, right key id, random content: always a ProtocolError.
    desk = _RANDOM_DESK
    entries = b"".join(desk.public.key_id + os.urandom(80) for _ in range(count))
    data = b"QLEN\x01\x01" + bytes([count]) + entries + os.urandom(24) + os.urandom(1024 + 16)
    data = data[: len(data) - len(noise)] + noise if noise else data
    exc = expect_protocol_error(open_as, data, desk)
    assert exc is not None
    # Entries sharing one key id are refused as framing, before any decryption.
    assert exc.code in (("decryption_failed", "bad_envelope") if count == 1 else ("bad_recipients",))


_RANDOM_DESK = DeskKeys.generate("random", "Random")


def test_make_case_helper_is_independent():
    assert make_case().id != make_case().id
