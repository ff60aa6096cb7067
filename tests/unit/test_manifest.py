"""crypto.manifest: the root-signed list of desks; crypto.desk: a desk's key pairs."""

import base64
import dataclasses
import hashlib
import json
import re

import pytest
from hypothesis import given, settings, strategies as st
from nacl.bindings import crypto_sign_keypair

from crypto import signing
from crypto.desk import DeskKeys
from crypto.encoding import b64encode, json_bytes
from crypto.errors import ProtocolError
from crypto.manifest import (
    DeskPublic,
    Manifest,
    fingerprint,
    sign_manifest,
    verify_manifest,
)
from ql_helpers import DAY, make_manifest, raises_code


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def desk_entry(desk, **overrides) -> dict:
    entry = {"id": desk.id, "name": desk.name, "box_pk": b64(desk.box_public), "sign_pk": b64(desk.sign_public)}
    entry.update(overrides)
    return entry


def signed_file(body, root_secret, *, outer: dict | None = None, body_bytes: bytes | None = None) -> bytes:
    """A manifest file around an arbitrary body, really signed by `root_secret`: what a
    root key holder could produce, to reach the checks behind the signature."""
    if body_bytes is None:
        body_bytes = json_bytes(body)
    sig = signing.sign("manifest", body_bytes, root_secret)
    doc = {"format": "quietline.manifest", "v": 1, "body": b64(body_bytes), "signature": b64(sig)}
    doc.update(outer or {})
    return json.dumps(doc).encode()


def good_body(desks) -> dict:
    return {"v": 1, "org": "Test Org", "issued": DAY, "desks": [desk_entry(d) for d in desks]}


# --- round trip ----------------------------------------------------------------------------


def test_round_trip(manifest, manifest_bytes, root, desks):
    parsed = verify_manifest(manifest_bytes, root.public)
    assert parsed == manifest
    assert [d.id for d in parsed.desks] == ["desk-1", "desk-2", "desk-3"]
    for desk, pub in zip(desks, parsed.desks):
        assert pub == desk.public
        assert pub.box_public == desk.box_public and pub.sign_public == desk.sign_public


def test_file_format_matches_protocol(manifest_bytes, root, desks):
    outer = json.loads(manifest_bytes)
    assert set(outer) == {"format", "v", "body", "signature"}
    assert outer["format"] == "quietline.manifest" and outer["v"] == 1
    assert manifest_bytes == json_bytes(outer)  # compact, sorted keys
    body_bytes = base64.b64decode(outer["body"])
    body = json.loads(body_bytes)
    assert body_bytes == json_bytes(body)
    assert body == good_body(desks)
    signing.verify("manifest", body_bytes, base64.b64decode(outer["signature"]), root.public)


def test_single_and_sixteen_desks(root):
    for n in (1, 16):
        desks = [DeskKeys.generate(f"d{i}", f"Desk {i}") for i in range(n)]
        m = make_manifest(desks)
        assert verify_manifest(sign_manifest(m, root.secret), root.public) == m


def test_unicode_names_round_trip(root):
    desks = [DeskKeys.generate("ar", "مكتب"), DeskKeys.generate("zh", "办公室"), DeskKeys.generate("ru", "Бюро \"x\"")]
    m = make_manifest(desks, org="Организация / 組織")
    assert verify_manifest(sign_manifest(m, root.secret), root.public) == m


def test_lookups(verified_manifest, desks, outsider):
    for desk in desks:
        assert verified_manifest.desk_by_key_id(desk.public.key_id) == desk.public
        assert verified_manifest.desk_by_id(desk.id) == desk.public
    with raises_code("unknown_desk"):
        verified_manifest.desk_by_key_id(outsider.public.key_id)
    with raises_code("unknown_desk"):
        verified_manifest.desk_by_key_id(bytes(8))
    with raises_code("unknown_desk"):
        verified_manifest.desk_by_id("outsider")
    with raises_code("unknown_desk"):
        verified_manifest.desk_by_id("DESK-1")


def test_key_id_matches_protocol(desks):
    for desk in desks:
        expected = hashlib.blake2b(desk.box_public + desk.sign_public, digest_size=32,
                                   key=b"quietline/desk-key-id/v1").digest()[:8]
        assert desk.public.key_id == expected
    assert len({d.public.key_id for d in desks}) == len(desks)


def test_fingerprint_matches_protocol(root):
    fp = fingerprint(root.public)
    digest = hashlib.blake2b(root.public, digest_size=16, key=b"quietline/fingerprint/v1").hexdigest().upper()
    assert fp == " ".join(digest[i : i + 4] for i in range(0, 32, 4))
    assert re.fullmatch(r"[0-9A-F]{4}( [0-9A-F]{4}){7}", fp)
    assert fingerprint(bytes(32)) != fingerprint(b"\x01" + bytes(31))


def test_desk_keys_generate():
    desk = DeskKeys.generate("desk-x", "X")
    assert len(desk.box_public) == 32 and len(desk.box_secret) == 32
    assert len(desk.sign_public) == 32 and len(desk.sign_secret) == 64
    assert desk.public == DeskPublic("desk-x", "X", desk.box_public, desk.sign_public)
    other = DeskKeys.generate("desk-x", "X")
    assert other.box_public != desk.box_public and other.sign_public != desk.sign_public
    # The signing secret really belongs to the public key.
    signing.verify("reply", b"m", signing.sign("reply", b"m", desk.sign_secret), desk.sign_public)


# --- authentication ------------------------------------------------------------------------


def test_wrong_root_key(manifest_bytes, other_root):
    with raises_code("bad_signature"):
        verify_manifest(manifest_bytes, other_root.public)


def test_signed_by_another_root(manifest, root, other_root):
    with raises_code("bad_signature"):
        verify_manifest(sign_manifest(manifest, other_root.secret), root.public)


def test_tampered_body(manifest_bytes, root, desks):
    outer = json.loads(manifest_bytes)
    body = json.loads(base64.b64decode(outer["body"]))
    for change in (
        lambda b: b.update(org="Evil Org"),
        lambda b: b.update(issued="2030-01-01"),
        lambda b: b["desks"].pop(),
        lambda b: b["desks"][0].update(box_pk=b64(bytes(32))),
        lambda b: b["desks"][1].update(sign_pk=b64(desks[0].sign_public)),
        lambda b: b["desks"].reverse(),
    ):
        tampered = json.loads(json.dumps(body))
        change(tampered)
        outer2 = dict(outer, body=b64(json_bytes(tampered)))
        with raises_code("bad_signature"):
            verify_manifest(json.dumps(outer2).encode(), root.public)


def test_body_byte_flips(manifest_bytes, root):
    outer = json.loads(manifest_bytes)
    body = base64.b64decode(outer["body"])
    for i in range(0, len(body), 7):
        bad = bytearray(body)
        bad[i] ^= 0x01
        with raises_code("bad_signature"):
            verify_manifest(json.dumps(dict(outer, body=b64(bytes(bad)))).encode(), root.public)


def test_tampered_signature(manifest_bytes, root):
    outer = json.loads(manifest_bytes)
    sig = base64.b64decode(outer["signature"])
    for i in range(64):
        bad = bytearray(sig)
        bad[i] ^= 0x40
        with raises_code("bad_signature"):
            verify_manifest(json.dumps(dict(outer, signature=b64(bytes(bad)))).encode(), root.public)
    for bad in (sig[:63], sig + b"\x00", b""):
        with raises_code("bad_signature"):
            verify_manifest(json.dumps(dict(outer, signature=b64(bad))).encode(), root.public)


def test_signature_for_another_purpose(manifest_bytes, root):
    outer = json.loads(manifest_bytes)
    body = base64.b64decode(outer["body"])
    for purpose in ("report", "followup", "reply", "bundle"):
        sig = signing.sign(purpose, body, root.secret)
        with raises_code("bad_signature"):
            verify_manifest(json.dumps(dict(outer, signature=b64(sig))).encode(), root.public)


# --- outer format --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [None, "", "quietline.Manifest", "quietline.bundle", 1])
def test_wrong_format(manifest_bytes, root, fmt):
    outer = json.loads(manifest_bytes)
    if fmt is None:
        del outer["format"]
    else:
        outer["format"] = fmt
    with raises_code("bad_manifest"):
        verify_manifest(json.dumps(outer).encode(), root.public)


@pytest.mark.parametrize("version", [None, 0, 2, "1", [1], True])
def test_wrong_outer_version(manifest_bytes, root, version):
    outer = json.loads(manifest_bytes)
    if version is None:
        del outer["v"]
    else:
        outer["v"] = version
    with raises_code("unsupported_version"):
        verify_manifest(json.dumps(outer).encode(), root.public)


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b"null", b'"x"', b"\xff\xfe", b"{"])
def test_not_a_json_object(data, root):
    with raises_code("bad_json"):
        verify_manifest(data, root.public)


@pytest.mark.parametrize("field", ["body", "signature"])
@pytest.mark.parametrize("value", [None, 5, "***", "QUJ", "Ａ", "QUJD=", "QUJD===="])
def test_bad_base64_fields(manifest_bytes, root, field, value):
    outer = json.loads(manifest_bytes)
    if value is None:
        del outer[field]
    else:
        outer[field] = value
    with raises_code("bad_base64"):
        verify_manifest(json.dumps(outer).encode(), root.public)


# --- body checks (reached only with a valid root signature) --------------------------------


def test_signed_good_body_helper(desks, root, manifest):
    assert verify_manifest(signed_file(good_body(desks), root.secret), root.public) == manifest


@pytest.mark.parametrize("version", [None, 0, 2, "1", True])
def test_wrong_body_version(desks, root, version):
    body = good_body(desks)
    if version is None:
        del body["v"]
    else:
        body["v"] = version
    with raises_code("unsupported_version"):
        verify_manifest(signed_file(body, root.secret), root.public)


def test_body_not_json(root):
    for body_bytes in (b"", b"nope", b"[1]", b"\xff"):
        with raises_code("bad_json"):
            verify_manifest(signed_file(None, root.secret, body_bytes=body_bytes), root.public)


def test_duplicate_desk_ids(desks, root):
    body = good_body(desks)
    body["desks"][1]["id"] = body["desks"][0]["id"]
    with raises_code("bad_manifest"):
        verify_manifest(signed_file(body, root.secret), root.public)
    m = make_manifest([desks[0], dataclasses.replace(desks[1].public, id=desks[0].id)])
    with raises_code("bad_manifest"):
        sign_manifest(m, root.secret)


@pytest.mark.parametrize("slug", ["", "-desk", "Desk", "desk_1", "desk 1", "desk.1", "d" * 33, "désk", "desk\n",
                                  "\ndesk", "desk/..", "١"])
def test_bad_slug(desks, root, slug):
    body = good_body(desks)
    body["desks"][0]["id"] = slug
    with raises_code("bad_manifest"):
        verify_manifest(signed_file(body, root.secret), root.public)
    with raises_code("bad_manifest"):
        sign_manifest(make_manifest([dataclasses.replace(desks[0].public, id=slug)]), root.secret)


@pytest.mark.parametrize("slug", ["a", "0", "desk-1", "a-", "a--b", "d" * 32, "0123456789abcdefghijklmnopqrstuv"])
def test_good_slugs(desks, root, slug):
    m = make_manifest([dataclasses.replace(desks[0].public, id=slug)])
    assert verify_manifest(sign_manifest(m, root.secret), root.public).desks[0].id == slug


@pytest.mark.parametrize("desk_id", [None, 1, ["desk-1"], {"id": "x"}])
def test_desk_id_must_be_a_string(desks, root, desk_id):
    body = good_body(desks)
    body["desks"][0]["id"] = desk_id
    with raises_code("bad_manifest"):
        verify_manifest(signed_file(body, root.secret), root.public)


@pytest.mark.parametrize("name", [None, 5, ["Desk"], KeyError])
def test_desk_name_must_be_a_string(desks, root, name):
    body = good_body(desks)
    if name is KeyError:
        del body["desks"][0]["name"]
    else:
        body["desks"][0]["name"] = name
    with raises_code("bad_manifest"):
        verify_manifest(signed_file(body, root.secret), root.public)


@pytest.mark.parametrize("field", ["org", "issued"])
@pytest.mark.parametrize("value", [None, 5, KeyError])
def test_org_and_day_must_be_strings(desks, root, field, value):
    body = good_body(desks)
    if value is KeyError:
        del body[field]
    else:
        body[field] = value
    with raises_code("bad_manifest"):
        verify_manifest(signed_file(body, root.secret), root.public)


@pytest.mark.parametrize("entry", [5, "desk-9", None, [], True])
def test_desk_entries_must_be_objects(desks, root, entry):
    body = good_body(desks)
    body["desks"].append(entry)
    with raises_code("bad_manifest"):
        verify_manifest(signed_file(body, root.secret), root.public)


@pytest.mark.parametrize("desks_value", [[], None, "desk-1", {"id": "desk-1"}])
def test_desk_list_shape(root, desks_value):
    body = {"v": 1, "org": "O", "issued": DAY, "desks": desks_value}
    if desks_value is None:
        del body["desks"]
    with raises_code("bad_manifest"):
        verify_manifest(signed_file(body, root.secret), root.public)


def test_too_many_desks(root):
    desks = [DeskKeys.generate(f"d{i}", "D") for i in range(17)]
    with raises_code("bad_manifest"):
        verify_manifest(signed_file(good_body(desks), root.secret), root.public)
    with raises_code("bad_manifest"):
        sign_manifest(make_manifest(desks), root.secret)
    with raises_code("bad_manifest"):
        sign_manifest(Manifest("O", DAY, ()), root.secret)


def test_shared_key_pair(desks, root):
    twin = dataclasses.replace(desks[0].public, id="twin")
    with raises_code("bad_manifest"):
        sign_manifest(make_manifest([desks[0], twin]), root.secret)
    body = good_body(desks)
    body["desks"].append(desk_entry(desks[0], id="twin"))
    with raises_code("bad_manifest"):
        verify_manifest(signed_file(body, root.secret), root.public)


@pytest.mark.parametrize("shared", ["box_public", "sign_public"])
def test_shared_single_key(desks, root, shared):
    # "No two desks share a key": sharing only the box key or only the signing key is refused
    # too (a shared signing key would let one desk sign replies and bundles as the other).
    twin = dataclasses.replace(desks[1].public, **{shared: getattr(desks[0].public, shared)})
    assert twin.key_id != desks[0].public.key_id
    with raises_code("bad_manifest"):
        sign_manifest(make_manifest([desks[0], twin]), root.secret)
    body = good_body(desks[:2])
    field = {"box_public": "box_pk", "sign_public": "sign_pk"}[shared]
    body["desks"][1][field] = body["desks"][0][field]
    with raises_code("bad_manifest"):
        verify_manifest(signed_file(body, root.secret), root.public)


@pytest.mark.parametrize("field", ["box_pk", "sign_pk"])
@pytest.mark.parametrize("value, code", [(b64(bytes(31)), "bad_length"), (b64(bytes(33)), "bad_length"),
                                         ("", "bad_length"), ("!!", "bad_base64"), (None, "bad_base64"),
                                         ("A" * 42 + "B=", "bad_base64"),  # non-zero trailing bits
                                         (b64(bytes(32)) + "=", "bad_base64")])
def test_bad_desk_keys(desks, root, field, value, code):
    body = good_body(desks)
    body["desks"][0][field] = value
    with raises_code(code):
        verify_manifest(signed_file(body, root.secret), root.public)


@pytest.mark.parametrize("issued", ["", "2026-1-01", "26-11-23", "2026/11/23", "2026-11-23\n", "2026-11-23T00:00",
                                    "٢٠٢٦-١١-٢٣", None])
def test_bad_issue_day(desks, root, issued):
    body = good_body(desks)
    if issued is None:
        del body["issued"]
    else:
        body["issued"] = issued
    with raises_code("bad_manifest"):
        verify_manifest(signed_file(body, root.secret), root.public)
    if issued is not None:
        with raises_code("bad_manifest"):
            sign_manifest(make_manifest(desks, issued=issued), root.secret)


# --- arbitrary input -----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_protocol_error(data):
    pk, _ = crypto_sign_keypair()
    with pytest.raises(ProtocolError):
        verify_manifest(data, pk)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["format", "v", "body", "signature", "x"]), json_values, max_size=5))
def test_random_outer_objects_only_raise_protocol_error(outer):
    pk, _ = crypto_sign_keypair()
    with pytest.raises(ProtocolError):
        verify_manifest(json.dumps(outer).encode(), pk)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["v", "org", "issued", "desks", "x"]), json_values, max_size=5))
def test_random_signed_bodies_only_raise_protocol_error(body):
    # Even a body the root really signed must never crash the parser.
    pk, sk = crypto_sign_keypair()
    try:
        verify_manifest(signed_file(body, sk), pk)
    except ProtocolError:
        pass


def test_hostile_json_is_a_protocol_error(root):
    # Numbers beyond Python's int-string limit and deeply nested arrays make json.loads raise
    # ValueError / RecursionError; both must surface as bad_json, never as another exception.
    for data in (b'{"v": ' + b"1" * 5000 + b"}", b'{"v": ' + b"[" * 100000 + b"]" * 100000 + b"}"):
        with raises_code("bad_json"):
            verify_manifest(data, root.public)
        with raises_code("bad_json"):
            verify_manifest(signed_file(None, root.secret, body_bytes=data), root.public)


def test_b64encode_is_standard_with_padding():
    assert b64encode(b"\xfb\xff") == "+/8="
