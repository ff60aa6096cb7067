"""Property tests of every parser in crypto/: round trips give back exactly what went in, and
every malformed input, random or a mutation of a valid artifact, is refused with a
`ProtocolError` whose code docs/PROTOCOL.md documents for that format, never another exception.

Inputs come three ways: arbitrary bytes or text; mutations (flips, cuts, insertions, overwrites)
of valid artifacts from tests/robustness/artifacts.py; and arbitrary contents inside a correctly
authenticated frame (crafted), which is what reaches the checks behind a digest, signature or
AEAD. `QUIETLINE_PROPERTY_EXAMPLES` scales the number of examples (default keeps the file at
well under a minute).
"""

import hashlib
import io
import json
import os
import re
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, assume, event, given, settings, strategies as st
from hypothesis.control import currently_in_test_context

from crypto import casekey, encoding, envelope, padding, reply, upload
from crypto import pow as pw
from crypto.attachment import (
    CHUNK_CIPHERTEXT,
    CHUNK_PLAINTEXT,
    AttachmentOpener,
    AttachmentSealer,
    StreamParams,
    chunks_for_size,
    open_bytes,
    seal_bytes,
)
from crypto.bundle import INBOUND, OUTBOUND, MAX_HEADER, read_bundle
from crypto.encoding import MAX_SAFE_INT, b64decode, b64encode, json_bytes, json_load
from crypto.errors import ProtocolError
from crypto.manifest import DESK_ID, DeskPublic, Manifest, sign_manifest, verify_manifest
from crypto.padding import MESSAGE_BUCKETS, chunk_count_bucket, is_chunk_count_bucket, pad_message, unpad_message

from .artifacts import (
    ATTACHMENT_CODES,
    BUNDLE_CODES,
    CASE_KEY_CODES,
    DAY,
    ENCODING_CODES,
    ENVELOPE_CODES,
    MANIFEST_CODES,
    PADDING_CODES,
    POW_CODES,
    REPLY_CODES,
    UPLOAD_CODES,
    craft_bundle,
    craft_envelope,
    craft_manifest,
    craft_reply,
    desk_keys,
    signed_inner,
    world,
    write,
)

N = int(os.environ.get("QUIETLINE_PROPERTY_EXAMPLES", "150"))
FEW = max(10, N // 4)  # for properties whose every example does real cryptography on 256 KiB
prop = settings(max_examples=N, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
few = settings(prop, max_examples=FEW)


@contextmanager
def refused_with(codes: frozenset[str]):
    """The block may return or raise ProtocolError with one of `codes`; anything else escapes
    and fails the test. Yields a list that holds the error, if there was one."""
    caught: list[ProtocolError] = []
    try:
        yield caught
    except ProtocolError as exc:
        assert exc.code in codes, f"undocumented code {exc.code!r} ({exc.message})"
        caught.append(exc)
    if currently_in_test_context():  # --hypothesis-show-statistics shows how often each outcome came
        event(f"refused: {caught[0].code}" if caught else "accepted")


def must_refuse(codes: frozenset[str], fn, *args, **kwargs) -> ProtocolError:
    with refused_with(codes) as caught:
        result = fn(*args, **kwargs)
        raise AssertionError(f"{fn.__name__} accepted a malformed input and returned {result!r}")
    return caught[0]


# -- strategies -----------------------------------------------------------------------------------

json_scalars = (
    st.none() | st.booleans() | st.integers(-MAX_SAFE_INT, MAX_SAFE_INT) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """`original` changed in one to three places: a bit flip, a byte set, a cut, an insertion,
    a truncation, an extension, an overwritten or duplicated run."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "set", "cut", "insert", "truncate", "extend", "overwrite", "duplicate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, draw(st.integers(0, 255))]))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif kind == "truncate":
            del data[at:]
        elif kind == "extend":
            data += draw(st.binary(min_size=1, max_size=64))
        elif kind == "overwrite":
            piece = draw(st.binary(min_size=1, max_size=32))
            data[at : at + len(piece)] = piece
        elif kind == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    changed = bytes(data)
    assume(changed != original)
    return changed


# -- case key -------------------------------------------------------------------------------------

keys16 = st.binary(min_size=16, max_size=16)
FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in casekey.ALPHABET}
LOOK_ALIKES: dict[str, list[str]] = {c: [c, c.lower(), FULL_WIDTH[c]] for c in casekey.ALPHABET}
for _cyr, _lat in zip("АВЕКМНОРСТХ", "ABEKMH0PCTX"):
    LOOK_ALIKES[_lat] += [_cyr, _cyr.lower()]
for _i in range(10):
    LOOK_ALIKES[str(_i)] += [chr(0x0660 + _i), chr(0x06F0 + _i)]
LOOK_ALIKES["0"] += ["O", "o"]
LOOK_ALIKES["1"] += ["I", "i", "L", "l"]
SEPARATORS = sorted(casekey._SEPARATORS)


@prop
@given(keys16)
def test_case_key_round_trip(key):
    text = casekey.encode(key)
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){6}[0-9A-HJKMNP-TV-Z]{4}", text)
    assert casekey.parse(text) == key


@prop
@given(keys16, st.data())
def test_case_key_forgiven_forms_parse_to_the_same_key(key, data):
    """Each character in any forgiven form (case, full width, Cyrillic look-alike, Arabic-Indic
    digit, O/I/L alias), with any separators anywhere: the same key."""
    typed = []
    for ch in casekey.encode(key).replace("-", ""):
        typed.append(data.draw(st.lists(st.sampled_from(SEPARATORS), max_size=2), label="sep"))
        typed.append([data.draw(st.sampled_from(LOOK_ALIKES[ch]), label="form")])
    typed.append(data.draw(st.lists(st.sampled_from(SEPARATORS), max_size=2)))
    assert casekey.parse("".join("".join(part) for part in typed)) == key


@st.composite
def near_case_keys(draw) -> str:
    """A valid key's text with a few characters inserted, deleted or replaced by anything."""
    chars = list(casekey.encode(draw(keys16)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(chars)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        ch = draw(st.characters(codec=None) | st.sampled_from(list(casekey.ALPHABET) + SEPARATORS))
        if op == "insert":
            chars.insert(at, ch)
        elif chars and at < len(chars):
            chars[at : at + 1] = [] if op == "delete" else [ch]
    return "".join(chars)


@prop
@given(st.text(max_size=60) | st.text(alphabet=st.characters(codec=None), max_size=40) | near_case_keys())
def test_any_text_parses_to_its_key_or_is_refused_with_a_case_key_code(text):
    with refused_with(CASE_KEY_CODES) as caught:
        key = casekey.parse(text)
    if not caught:
        # It parsed: it is that key's text in some forgiven spelling.
        assert casekey.normalize(text) == casekey.encode(key).replace("-", "")


@pytest.mark.parametrize("value", [None, 5, b"0RFE-H1JK-9155-QPXR-Q2F5-HGBV-NBV2", ["x"]])
def test_a_case_key_that_is_not_text_is_refused(value):
    assert must_refuse(CASE_KEY_CODES, casekey.parse, value).code == "case_key_invalid_character"


# -- encoding -------------------------------------------------------------------------------------


@prop
@given(st.binary(max_size=200))
def test_b64_round_trip(data):
    text = b64encode(data)
    assert b64decode(text) == data
    assert b64decode(text, length=len(data)) == data
    assert must_refuse(ENCODING_CODES, b64decode, text, length=len(data) + 1).code == "bad_length"


@prop
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n-_", max_size=40)
       | st.text(max_size=20))
def test_b64_text_decodes_only_in_its_canonical_spelling(text):
    with refused_with(ENCODING_CODES) as caught:
        data = b64decode(text)
    if not caught:
        assert b64encode(data) == text


@pytest.mark.parametrize("value", [None, 1, b"QUJD", ["QUJD"]])
def test_b64_of_a_non_string_is_refused(value):
    assert must_refuse(ENCODING_CODES, b64decode, value).code == "bad_base64"


@prop
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_compact_json_round_trip(value):
    data = json_bytes(value)
    assert data == json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    assert json_load(data, what="value") == value
    assert json_bytes(json_load(data, what="value")) == data


@prop
@given(st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode())
       | st.text(alphabet='{}[]":,0123456789.eE+-truefalsnl \\u', max_size=30).map(str.encode))
def test_json_load_returns_an_object_or_bad_json(data):
    with refused_with(frozenset({"bad_json"})) as caught:
        value = json_load(data, what="value")
    if not caught:
        assert isinstance(value, dict)


@prop
@given(st.one_of(st.floats(allow_nan=True), st.integers().filter(lambda i: abs(i) > MAX_SAFE_INT),
                 st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3)))
def test_json_bytes_refuses_what_javascript_cannot_write_alike(value):
    assert must_refuse(frozenset({"bad_json"}), json_bytes, {"x": [value]}).code == "bad_json"


# -- padding --------------------------------------------------------------------------------------


@prop
@given(st.binary(max_size=300) | st.integers(0, 3).flatmap(
    lambda k: st.integers(MESSAGE_BUCKETS[k] - 3, MESSAGE_BUCKETS[k]).map(lambda n: bytes([n % 251]) * n)))
def test_padding_round_trip(data):
    padded = pad_message(data)
    assert len(padded) == min(b for b in MESSAGE_BUCKETS if b >= len(data) + 1)
    assert unpad_message(padded) == data


@prop
@given(st.integers(0, 2 * padding.MAX_MESSAGE))
def test_message_bucket_is_the_smallest_that_fits(length):
    with refused_with(PADDING_CODES) as caught:
        bucket = padding.message_bucket(length)
    if caught:
        assert length + 1 > padding.MAX_MESSAGE and caught[0].code == "too_large"
    else:
        assert bucket == min(b for b in MESSAGE_BUCKETS if b >= length + 1)


@st.composite
def bucket_sized(draw) -> bytes:
    """A bucket-sized buffer whose tail is random, so padding markers land anywhere."""
    size = draw(st.sampled_from(MESSAGE_BUCKETS[:3]))
    tail = draw(st.binary(max_size=40))
    return bytes(size - len(tail)) + tail


@prop
@given(st.binary(max_size=2100) | bucket_sized())
def test_unpad_refuses_anything_but_valid_padding(data):
    with refused_with(frozenset({"bad_padding"})) as caught:
        inner = unpad_message(data)
    if not caught:
        assert pad_message(inner) == data


@prop
@given(st.integers(-5, 10**7))
def test_chunk_count_buckets(chunks):
    with refused_with(frozenset({"bad_length"})) as caught:
        bucket = chunk_count_bucket(chunks)
    if caught:
        assert chunks < 1
        return
    assert chunks <= bucket <= max(1, chunks * 3 // 2 + 1) and is_chunk_count_bucket(bucket)
    assert bucket == min(b for b in _buckets_up_to(bucket) if b >= chunks)
    assert is_chunk_count_bucket(chunks) == (bucket == chunks)


def _buckets_up_to(limit: int) -> list[int]:
    out, power = [], 1
    while power <= limit:
        out += [power] + ([power + power // 2] if power >= 2 else [])
        power *= 2
    return out


# -- envelopes ------------------------------------------------------------------------------------

report_bodies = st.fixed_dictionaries(
    {"v": st.just(1), "kind": st.just("report"), "case_id": st.just("0" * 32), "day": st.just(DAY)},
    optional={"text": st.text(max_size=400), "extra": json_values},
)


@few
@given(report_bodies, st.sampled_from([(0,), (1,), (0, 1)]))
def test_envelope_round_trip(body, recipients):
    w = world()
    desks = tuple(w.desks[i] for i in recipients)
    sealed = envelope.seal("report", body, w.case.sign_secret, tuple(d.public for d in desks))
    header = envelope.parse_header(sealed, expect_kind="report")
    assert header.recipients == tuple(d.public.key_id for d in desks) and header.total_length == len(sealed)
    for desk in desks:
        opened = envelope.open_envelope(sealed, desk.public, desk.box_secret)
        assert opened.body == body and opened.body_bytes == json_bytes(body)
        opened.verify(w.case.sign_public)


@prop
@given(st.binary(max_size=1500) | st.binary(max_size=200).map(lambda tail: b"QLEN\x01\x01\x01" + tail))
def test_envelope_random_bytes_are_refused(data):
    w = world()
    must_refuse(ENVELOPE_CODES, envelope.parse_header, data)
    must_refuse(ENVELOPE_CODES, envelope.open_envelope, data, w.desks[0].public, w.desks[0].box_secret)


@prop
@given(st.data())
def test_every_change_to_an_envelope_is_refused(data):
    w = world()
    original = data.draw(st.sampled_from([w.report, w.followup]))
    changed = data.draw(mutated(original))
    with refused_with(ENVELOPE_CODES) as caught:
        header = envelope.parse_header(changed)
    if not caught:
        assert len(changed) - header.header_length - 16 in MESSAGE_BUCKETS
    for desk in w.desks:
        must_refuse(ENVELOPE_CODES, envelope.open_envelope, changed, desk.public, desk.box_secret)


@prop
@given(st.sampled_from([1] * 8 + [0, 2]) | st.integers(0, 255), st.sampled_from([1, 2] * 3 + [0, 3]) | st.integers(0, 255),
       st.sampled_from([1, 2, 16] * 2 + [0, 17]) | st.integers(0, 255), st.sampled_from(MESSAGE_BUCKETS[:2]),
       st.sampled_from([0, 0, -1, 1, -16, 16]))
def test_envelope_framing_fields(version, kind, count, bucket, slack):
    data = b"QLEN" + bytes([version, kind, count]) + bytes(max(0, 88 * min(count, 20) + 24 + bucket + 16 + slack))
    with refused_with(ENVELOPE_CODES) as caught:
        header = envelope.parse_header(data)
    if not caught:
        assert (version, kind in (1, 2), 1 <= count <= 16, slack) == (1, True, True, 0)
        assert len(header.recipients) == count


@prop
@given(st.data())
def test_authentic_envelope_with_any_contents(data):
    """A correctly sealed envelope whose padded plaintext is anything: opened only when it is
    padding around signature || a JSON object of the header's kind."""
    w = world()
    kind = data.draw(st.sampled_from(["report", "followup"]))
    body = data.draw(st.one_of(
        st.dictionaries(st.text(max_size=6), json_values, max_size=3).map(lambda extra: json_bytes({**extra, "kind": kind})),
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(st.sampled_from(["kind", "v", "x"]), st.sampled_from(["report", "followup", 1, None]))
        .map(json_bytes),
    ))
    inner = data.draw(st.sampled_from(["signed", "short", "raw"]))
    if inner == "signed":
        plain = signed_inner(kind, body, w.case.sign_secret)
    elif inner == "short":
        plain = body[: data.draw(st.integers(0, 63))]
    else:
        plain = body
    padded = pad_message(plain) if data.draw(st.booleans()) else data.draw(st.sampled_from(
        [plain + bytes(1024 - len(plain) % 1024), bytes(1024), b"\x80" + bytes(1023)]))
    sealed = craft_envelope(padded, w.desks, kind=envelope.KINDS[kind])
    with refused_with(ENVELOPE_CODES) as caught:
        opened = envelope.open_envelope(sealed, w.desks[1].public, w.desks[1].box_secret)
    if not caught:
        assert opened.kind == kind and opened.body["kind"] == kind and isinstance(opened.body, dict)
        with refused_with(ENVELOPE_CODES) as bad:
            opened.verify(w.case.sign_public)
        assert bool(bad) == (inner != "signed")


@prop
@given(st.sampled_from(["report", "followup"]), st.sampled_from(["report", "followup", None]))
def test_expect_kind(kind, expected):
    w = world()
    sealed = w.report if kind == "report" else w.followup
    with refused_with(ENVELOPE_CODES) as caught:
        assert envelope.parse_header(sealed, expect_kind=expected).kind == kind
    assert bool(caught) == (expected not in (None, kind))


def test_envelope_of_an_outsider_desk_is_not_for_a_recipient():
    w = world()
    assert must_refuse(ENVELOPE_CODES, envelope.open_envelope, w.report, w.outsider.public,
                       w.outsider.box_secret).code == "not_a_recipient"


# -- bundles --------------------------------------------------------------------------------------

blob_lists = st.lists(st.binary(max_size=300), max_size=5)
header_extras = st.dictionaries(st.text(max_size=10).filter(lambda k: k not in ("blobs", "v", "bundle_id", "desk")),
                                json_values, max_size=4)


def _read(data: bytes, direction: str):
    return read_bundle(io.BytesIO(data), direction, world().manifest if direction == OUTBOUND else None)


@prop
@given(st.sampled_from([INBOUND, OUTBOUND]), header_extras, blob_lists, st.sampled_from([0, 1]))
def test_bundle_round_trip(direction, extra, blobs, signer):
    w = world()
    desk = w.desks[signer]
    header = {**extra, "v": 1, "bundle_id": "5a" * 16, "desk": desk.id}
    data = write(direction, header, blobs, desk.sign_secret if direction == OUTBOUND else None)
    bundle = _read(data, direction)
    assert bundle.header == {**header, "blobs": [len(b) for b in blobs]}
    assert [bundle.read_blob(io.BytesIO(data), i) for i in range(len(blobs))] == blobs
    assert bundle.signer == (desk.public if direction == OUTBOUND else None)


@prop
@given(st.binary(max_size=600) | st.binary(max_size=300).map(lambda tail: b"QLBUNDLE\x01" + tail),
       st.sampled_from([INBOUND, OUTBOUND]))
def test_bundle_random_bytes_are_refused(data, direction):
    must_refuse(BUNDLE_CODES, _read, data, direction)


@prop
@given(st.data())
def test_every_change_to_a_bundle_is_refused(data):
    w = world()
    direction = data.draw(st.sampled_from([INBOUND, OUTBOUND]))
    original = w.inbound if direction == INBOUND else w.outbound
    if direction == INBOUND:
        # Keep the edits near the header and trailer, where the parser branches; the middle is
        # 256 KiB of attachment that only the digest covers.
        head, tail = original[:3000], original[-100:]
        side = data.draw(st.sampled_from(["head", "tail"]))
        changed = (data.draw(mutated(head)) + original[3000:]) if side == "head" else (original[:-100] + data.draw(mutated(tail)))
    else:
        changed = data.draw(mutated(original))
    must_refuse(BUNDLE_CODES, _read, changed, direction)
    must_refuse(BUNDLE_CODES, _read, changed, OUTBOUND if direction == INBOUND else INBOUND)


@st.composite
def header_texts(draw, blob_length: int) -> bytes:
    """Header bytes that are near a valid header: JSON objects with the required fields
    mostly right, sometimes wrong or missing, or arbitrary JSON and bytes."""
    cuts = sorted(draw(st.lists(st.integers(0, blob_length), max_size=3)))
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, blob_length])]
    fields = {"v": 1, "bundle_id": "5a" * 16, "blobs": sizes, "desk": "desk-1"}
    for name in draw(st.lists(st.sampled_from(list(fields)), max_size=2)):
        if draw(st.booleans()):
            fields.pop(name, None)
        elif name == "v":
            fields["v"] = draw(st.sampled_from([2, 0, True, "1", None, -1]))
        elif name == "bundle_id":
            fields["bundle_id"] = draw(st.sampled_from(["5A" * 16, "5a" * 15, "5a" * 16 + "\n", 7, "", None]))
        elif name == "blobs":
            fields["blobs"] = draw(st.lists(st.integers(-2, 40) | st.sampled_from([True, "3", None, 2**60]), max_size=4)
                                   | json_values)
        else:
            fields["desk"] = draw(st.sampled_from(["desk-2", "outsider", "", 1, None, ["desk-1"]]))
    fields.update(draw(header_extras))
    compact = json.dumps(fields, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8", "surrogatepass")
    return draw(st.sampled_from([compact, json.dumps(fields).encode()])
                | json_values.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=40))


@prop
@given(st.binary(max_size=80).flatmap(lambda b: st.tuples(header_texts(len(b)), st.just(b))),
       st.sampled_from([INBOUND, OUTBOUND]), st.sampled_from([0, 0, 1, None]))
def test_authentic_bundle_with_any_header(header_and_blobs, direction, signer):
    """Digest (and signature) right, header anything: read only when the header is a JSON object
    with version 1, a bundle id, blob sizes that add up to the blob bytes, and a known signer."""
    header_bytes, blobs = header_and_blobs
    w = world()
    sign = (w.desks[signer] if signer is not None else w.outsider).sign_secret if direction == OUTBOUND else None
    data = craft_bundle(direction, header_bytes, blobs, sign)
    with refused_with(BUNDLE_CODES) as caught:
        bundle = _read(data, direction)
    if caught:
        return
    header = json.loads(header_bytes)
    assert header["v"] == 1 and header["v"] is not True and re.fullmatch(r"[0-9a-f]{32}", header["bundle_id"])
    assert sum(bundle.blob_sizes) == len(blobs) and bundle.header == header
    if direction == OUTBOUND:
        assert signer is not None and bundle.signer.id == header["desk"] == w.desks[signer].id


@pytest.mark.parametrize("version", [0, 2, 255])
def test_bundle_of_another_version(version):
    data = craft_bundle(INBOUND, json_bytes({"v": 1, "bundle_id": "5a" * 16, "blobs": []}), version=version)
    assert must_refuse(BUNDLE_CODES, _read, data, INBOUND).code == "unsupported_version"


def test_bundle_header_over_the_limit_is_too_large():
    data = b"QLBUNDLE\x01I" + (MAX_HEADER + 1).to_bytes(4, "big")
    assert must_refuse(BUNDLE_CODES, _read, data, INBOUND).code == "too_large"


# -- manifest -------------------------------------------------------------------------------------

desk_ids = st.from_regex(DESK_ID, fullmatch=True)


@few
@given(st.text(max_size=30), st.lists(desk_ids, min_size=1, max_size=16, unique=True), st.text(max_size=20))
def test_manifest_round_trip(org, ids, name):
    w = world()
    desks = tuple(DeskPublic(i, name, desk_keys(i).box_public, desk_keys(i).sign_public) for i in ids)
    manifest = Manifest(org, DAY, desks)
    assert verify_manifest(sign_manifest(manifest, w.root_sk), w.root_pk) == manifest


@prop
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_manifest_random_bytes_are_refused(data):
    must_refuse(MANIFEST_CODES, verify_manifest, data, world().root_pk)


@prop
@given(st.data())
def test_a_changed_manifest_is_refused_or_reads_the_same(data):
    """The outer JSON is not signed, so a change to its spelling may still read; what it reads
    is then exactly the signed manifest."""
    w = world()
    changed = data.draw(mutated(w.manifest_bytes))
    with refused_with(MANIFEST_CODES) as caught:
        manifest = verify_manifest(changed, w.root_pk)
    if not caught:
        assert manifest == w.manifest


def test_manifest_signed_by_another_root_is_refused():
    w = world()
    other = desk_keys("root-2")
    assert must_refuse(MANIFEST_CODES, verify_manifest, w.manifest_bytes, other.sign_public).code == "bad_signature"


@st.composite
def manifest_bodies(draw) -> bytes:
    """Bodies near a valid one: each field right, wrong or missing."""
    w = world()
    good = json_load(b64decode(json_load(w.manifest_bytes, what="m")["body"]), what="body")
    body = dict(good)
    for name in ("v", "org", "issued", "desks"):
        choice = draw(st.sampled_from(["keep", "keep", "drop", "replace"]))
        if choice == "drop":
            body.pop(name, None)
        elif choice == "replace":
            body[name] = draw(st.sampled_from([True, 2, "2026-1-01", "２０２６-11-01", "2026-11-01\n", [], {}]) | json_values)
    if isinstance(body.get("desks"), list) and body["desks"] and draw(st.booleans()):
        desks = [dict(d) if isinstance(d, dict) else d for d in body["desks"]]
        target = desks[draw(st.integers(0, len(desks) - 1))]
        if isinstance(target, dict):
            field = draw(st.sampled_from(["id", "name", "box_pk", "sign_pk"]))
            target[field] = draw(st.sampled_from(
                ["Desk", "desk-1\n", "-x", "a" * 33, b64encode(bytes(31)), b64encode(bytes(32)), "QUJD=", None, 5]
            ) | json_values)
        if draw(st.booleans()):
            desks.append(draw(st.sampled_from([desks[0], "x", None])))
        body["desks"] = desks
    return draw(st.sampled_from([json_bytes(body), json.dumps(body).encode()]) | st.binary(max_size=30))


@prop
@given(manifest_bodies())
def test_authentic_manifest_with_any_body(body_bytes):
    """Signed by the root, body anything: read only when it meets every rule of the format."""
    w = world()
    with refused_with(MANIFEST_CODES) as caught:
        manifest = verify_manifest(craft_manifest(body_bytes, w.root_sk), w.root_pk)
    if caught:
        return
    body = json.loads(body_bytes)
    assert body["v"] == 1 and body["v"] is not True
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", manifest.issued) and 1 <= len(manifest.desks) <= 16
    assert all(DESK_ID.fullmatch(d.id) for d in manifest.desks)
    assert len({d.id for d in manifest.desks}) == len({d.box_public for d in manifest.desks}) == len(manifest.desks)
    assert verify_manifest(sign_manifest(manifest, w.root_sk), w.root_pk) == manifest


# -- replies --------------------------------------------------------------------------------------


@few
@given(st.integers(1, MAX_SAFE_INT), st.sampled_from(reply.STATUSES), st.text(max_size=300),
       st.sampled_from([None, "still_open"]), st.sampled_from([0, 1]))
def test_reply_round_trip(seq, status, text, notice, which):
    w = world()
    desk = w.desks[which]
    sent = reply.Reply(w.case_id, seq, status, text, DAY, desk.id, notice)
    blob = reply.seal_reply(sent, desk.public, desk.sign_secret, w.case.reply_public)
    assert reply.check_framing(blob) == desk.public.key_id
    assert reply.open_reply(blob, w.manifest, w.case.reply_public, w.case.reply_secret, w.case_id) == sent


def _open_reply(blob: bytes):
    w = world()
    return reply.open_reply(blob, w.manifest, w.case.reply_public, w.case.reply_secret, w.case_id)


@prop
@given(st.binary(max_size=1200) | st.binary(max_size=100).map(lambda tail: b"QLRP\x01" + tail))
def test_reply_random_bytes_are_refused(data):
    with refused_with(REPLY_CODES) as caught:
        reply.check_framing(data)
    if not caught:
        assert len(data) - 13 - 48 in MESSAGE_BUCKETS
    must_refuse(REPLY_CODES, _open_reply, data)


@prop
@given(st.data())
def test_every_change_to_a_reply_is_refused(data):
    must_refuse(REPLY_CODES, _open_reply, data.draw(mutated(world().reply)))


@st.composite
def reply_bodies(draw) -> dict:
    w = world()
    body = {"v": 1, "kind": "reply", "case_id": w.case_id, "seq": 1, "status": "received", "text": "",
            "day": DAY, "desk": "desk-1"}
    for name in draw(st.lists(st.sampled_from([*body, "notice"]), max_size=2)):
        choice = draw(st.sampled_from(["drop", "replace"]))
        if choice == "drop":
            body.pop(name, None)
        elif choice == "replace":
            body[name] = draw(st.sampled_from(
                [True, 0, -1, 2, "1", None, "reply", "closed", "still_open", "desk-2", "0" * 32, "2026-11-23\n",
                 "２０２６-11-23", [], {}]) | json_values)
    return body


@prop
@given(reply_bodies(), st.sampled_from(["desk-1", "desk-1", "desk-2", "outsider"]), st.sampled_from([True, True, False]))
def test_authentic_reply_with_any_body(body, signer, pad_right):
    """Sealed to the case and signed by a desk, body anything: opened only when the body is a
    well-formed reply of this case from the desk that signed it."""
    w = world()
    desk = {"desk-1": w.desks[0], "desk-2": w.desks[1], "outsider": w.outsider}[signer]
    inner = signed_inner("reply", json_bytes(body), desk.sign_secret)
    padded = pad_message(inner) if pad_right else inner + bytes(1024 - len(inner) % 1024)
    with refused_with(REPLY_CODES) as caught:
        opened = _open_reply(craft_reply(padded, desk, w.case.reply_public))
    if caught:
        return
    assert pad_right and signer != "outsider" and opened.desk == signer == body["desk"]
    assert reply.Reply(**{k: body.get(k) for k in ("case_id", "seq", "status", "text", "day", "desk", "notice")}) == opened
    assert opened.case_id == w.case_id and opened.seq >= 1 and type(opened.seq) is int


# -- attachment streams ---------------------------------------------------------------------------


@few
@given(st.binary(max_size=3000) | st.integers(CHUNK_PLAINTEXT - 2, CHUNK_PLAINTEXT + 2).map(lambda n: b"\x07" * n))
def test_attachment_round_trip_and_resume(data):
    params, chunks = seal_bytes(data)
    assert params.chunks == chunks_for_size(len(data)) == len(chunks)
    assert all(len(c) == CHUNK_CIPHERTEXT for c in chunks)
    assert open_bytes(params, b"".join(chunks)) == data
    # Restarted from its key and header, the stream comes out byte for byte as before.
    again, chunks_again = seal_bytes(data, params.key, params.header)
    assert again == params and chunks_again == chunks


@few
@given(st.data())
def test_every_change_to_an_attachment_chunk_is_refused(data):
    w = world()
    chunk = w.attachment_chunks[0]
    head = data.draw(st.sampled_from([0, len(chunk) - 200]))
    changed = chunk[:head] + data.draw(mutated(chunk[head : head + 200])) + chunk[head + 200 :]
    opener = AttachmentOpener(w.attachment)
    must_refuse(ATTACHMENT_CODES, opener.open_chunk, changed)


@prop
@given(st.binary(max_size=100) | st.integers(-1, 1).map(lambda d: bytes(CHUNK_CIPHERTEXT + d)))
def test_attachment_random_chunks_are_refused(data):
    must_refuse(ATTACHMENT_CODES, AttachmentOpener(world().attachment).open_chunk, data)


@prop
@given(st.integers(-3, 10**12), st.integers(-3, 5000), st.integers(30, 34), st.integers(22, 26))
def test_attachment_descriptor_values(size, chunks, key_length, header_length):
    w = world()
    params = StreamParams(w.attachment.key[:1] * key_length, w.attachment.header[:1] * header_length, size, chunks)
    with refused_with(ATTACHMENT_CODES) as caught:
        opener = AttachmentOpener(params)
    if not caught:
        assert (key_length, header_length) == (32, 24) and chunks == chunks_for_size(size) and not opener.finished


def test_attachment_streams_refuse_extension_and_truncation():
    w = world()
    opener = AttachmentOpener(w.attachment)
    assert opener.open_chunk(w.attachment_chunks[0]) == w.attachment_data
    assert must_refuse(ATTACHMENT_CODES, opener.open_chunk, w.attachment_chunks[0]).code == "too_many_chunks"
    two = StreamParams(w.attachment.key, w.attachment.header, CHUNK_PLAINTEXT + 1, 2)
    cut = AttachmentOpener(two)
    assert must_refuse(ATTACHMENT_CODES, cut.open_chunk, w.attachment_chunks[0]).code in ("truncated", "decryption_failed")
    assert must_refuse(ATTACHMENT_CODES, AttachmentOpener(two).finish).code == "truncated"


# -- resumable upload keys ------------------------------------------------------------------------


@prop
@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=6))
def test_file_hash_is_the_same_however_the_file_is_read(data, cuts):
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    pieces = [data[a:b] for a, b in zip(points, points[1:])]
    expected = hashlib.blake2b(data, digest_size=32, key=upload.FILE_LABEL).digest()
    assert upload.file_hash(pieces) == upload.file_hash([data]) == expected


@prop
@given(keys16, st.binary(min_size=32, max_size=32))
def test_upload_keys_are_derived_and_distinct(case_key, digest):
    resume, stream_key = upload.upload_keys(case_key, digest)
    assert len(resume) == len(stream_key) == 32 and resume != stream_key
    assert upload.upload_keys(case_key, digest) == (resume, stream_key)
    index = upload.resume_index(resume)
    assert re.fullmatch(r"[0-9a-f]{32}", index)


@prop
@given(st.sampled_from(["upload_root", "resume", "stream_key", "resume_index"]),
       st.binary(max_size=40) | st.sampled_from([None, "x" * 32, 32]))
def test_upload_keys_refuse_values_of_the_wrong_length(which, value):
    good = bytes(32)
    calls = {
        "upload_root": lambda: upload.upload_root(value),
        "resume": lambda: upload.resume(value, good),
        "stream_key": lambda: upload.stream_key(good, value),
        "resume_index": lambda: upload.resume_index(value),
    }
    right = 16 if which == "upload_root" else 32
    assume(not (isinstance(value, bytes) and len(value) == right))
    assert must_refuse(UPLOAD_CODES, calls[which]).code == "bad_length"


# -- proof of work --------------------------------------------------------------------------------

POW_KEY = hashlib.blake2b(b"pow key", digest_size=32).digest()


@prop
@given(st.sampled_from(sorted(pw.BINDING_BYTES)), st.integers(0, pw.MAX_DIFFICULTY), st.integers(0, 2**32 - 1),
       st.binary(min_size=pw.RANDOM_BYTES, max_size=pw.RANDOM_BYTES))
def test_pow_challenge_round_trip(purpose, difficulty, expires, random):
    made = pw.make_challenge(POW_KEY, purpose, difficulty, expires, random)
    assert len(made) == pw.CHALLENGE_BYTES
    for read in (pw.parse_challenge(made), pw.open_challenge(POW_KEY, made)):
        assert (read.purpose, read.difficulty, read.expires, read.random, read.raw) == (purpose, difficulty, expires, random, made)


@prop
@given(st.binary(max_size=80) | st.binary(min_size=55, max_size=55).map(lambda tail: b"QLPW" + tail)
       | st.tuples(st.integers(0, 4), st.integers(0, 70), st.binary(min_size=52, max_size=52))
       .map(lambda t: b"QLPW\x01" + bytes(t[:2]) + t[2]))
def test_pow_random_challenges_are_refused_or_read_without_their_mac(data):
    with refused_with(POW_CODES) as caught:
        read = pw.parse_challenge(data)
    if not caught:
        assert len(data) == pw.CHALLENGE_BYTES and read.purpose in pw.BINDING_BYTES and read.difficulty <= pw.MAX_DIFFICULTY
    must_refuse(POW_CODES, pw.open_challenge, POW_KEY, data)


@prop
@given(st.data())
def test_every_change_to_a_pow_challenge_is_refused(data):
    made = pw.make_challenge(POW_KEY, pw.REPORT, 3, 12345, bytes(16))
    must_refuse(POW_CODES, pw.open_challenge, POW_KEY, data.draw(mutated(made)))


@prop
@given(st.integers(-(2**64), 2**64) | st.sampled_from([True, False, None, 1.0, "1"]))
def test_pow_counter(nonce):
    with refused_with(POW_CODES) as caught:
        encoded = pw.nonce_bytes(nonce)
    if caught:
        assert not (encoding.is_int(nonce) and 0 <= nonce <= MAX_SAFE_INT)
    else:
        assert encoding.is_int(nonce) and int.from_bytes(encoded, "little") == nonce and len(encoded) == 8


@prop
@given(st.text(alphabet="0123456789abcdefABCDEF \n", min_size=30, max_size=34) | st.text(max_size=40)
       | st.binary(min_size=16, max_size=16).map(bytes.hex))
def test_pow_case_id_binding_is_exactly_the_case_id(text):
    """As client_web/js/pow.js: 32 lower-case hex characters, nothing else."""
    with refused_with(POW_CODES) as caught:
        binding = pw.report_binding(text)
    if not caught:
        assert re.fullmatch(r"[0-9a-f]{32}", text) and binding.hex() == text
    with refused_with(POW_CODES) as caught_followup:
        followup = pw.followup_binding(text, b"envelope")
    assert bool(caught) == bool(caught_followup)
    if not caught_followup:
        assert followup[:16] == binding and len(followup) == pw.BINDING_BYTES[pw.FOLLOWUP]


@few
@given(st.sampled_from(sorted(pw.BINDING_BYTES)), st.integers(0, 6), st.data())
def test_pow_solutions(purpose, difficulty, data):
    challenge = pw.make_challenge(POW_KEY, purpose, difficulty, 99, bytes(16))
    binding = data.draw(st.binary(min_size=pw.BINDING_BYTES[purpose], max_size=pw.BINDING_BYTES[purpose]))
    nonce = pw.solve(challenge, binding)
    assert pw.is_solution(challenge, binding, nonce)
    assert pw.leading_zero_bits(pw.work_hash(challenge, binding, nonce)) >= difficulty
    wrong = data.draw(st.binary(max_size=60).filter(lambda b: len(b) != pw.BINDING_BYTES[purpose]))
    assert must_refuse(POW_CODES, pw.work_hash, challenge, wrong, nonce).code == "bad_binding"


def test_documented_codes_are_in_the_protocol():
    """Every code these properties allow is one docs/PROTOCOL.md names."""
    text = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "PROTOCOL.md"), encoding="utf-8").read()
    named = set(re.findall(r"`([a-z0-9_]+)`", text))
    allowed = (CASE_KEY_CODES | ENCODING_CODES | PADDING_CODES | ENVELOPE_CODES | BUNDLE_CODES | MANIFEST_CODES
               | REPLY_CODES | ATTACHMENT_CODES | UPLOAD_CODES | POW_CODES)
    assert allowed - named == set()
