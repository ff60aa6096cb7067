"""crypto.bundle: the files carried across the air gap, checked whole before any blob is used."""

import hashlib
import io
import json
import os
import random
import secrets
import struct

import pytest
from hypothesis import event, given, settings, strategies as st

from crypto import bundle as bundle_mod, signing
from crypto.bundle import INBOUND, OUTBOUND, read_bundle, write_bundle
from crypto.encoding import json_bytes
from crypto.errors import ProtocolError
from ql_helpers import DAY, expect_protocol_error, raises_code

BIG = 3 * 1024 * 1024 + 17


def inbound_header(**extra) -> dict:
    header = {"v": 1, "bundle_id": secrets.token_hex(16), "day": DAY, "items": [], "confirmed_outbound": []}
    header.update(extra)
    return header


def outbound_header(desk_id="desk-1", **extra) -> dict:
    header = {"v": 1, "bundle_id": secrets.token_hex(16), "desk": desk_id, "day": DAY, "acks": [], "replies": []}
    header.update(extra)
    return header


def write(direction, header, blobs, sign_secret=None, *, chunk=None) -> bytes:
    out = io.BytesIO()

    def pieces(blob):
        if chunk is None:
            return [blob] if blob else []
        return [blob[i : i + chunk] for i in range(0, len(blob), chunk)]

    write_bundle(out, direction, header, [(len(b), pieces(b)) for b in blobs], sign_secret)
    return out.getvalue()


def read(data: bytes, direction, manifest=None):
    return read_bundle(io.BytesIO(data), direction, manifest)


def craft(direction: str, header_bytes: bytes, body: bytes = b"", sign_secret=None, *, version=1,
          magic=b"QLBUNDLE", header_length=None) -> bytes:
    """A bundle built by hand with any header bytes, and a correct digest (and signature)."""
    prefix = struct.pack(">8sBBI", magic, version, ord(direction),
                         len(header_bytes) if header_length is None else header_length)
    data = prefix + header_bytes + body
    digest = hashlib.blake2b(data, digest_size=32, key=b"quietline/bundle/v1").digest()
    data += digest
    if sign_secret is not None:
        data += signing.sign("bundle", digest, sign_secret)
    return data


def regions(data: bytes, direction: str) -> dict:
    header_length = struct.unpack(">I", data[10:14])[0]
    trailer = 32 + (64 if direction == OUTBOUND else 0)
    return {"header_end": 14 + header_length, "digest_start": len(data) - trailer, "sig_start": len(data) - 64}


@pytest.fixture(scope="module")
def blobs():
    rng = random.Random(42)
    return [b"", b"x", rng.randbytes(BIG), rng.randbytes(1000), b""]


@pytest.fixture(scope="module")
def inbound(blobs):
    header = inbound_header(items=[{"type": "report", "case_id": "0" * 32, "blob": 3, "uploads": []}])
    return header, write(INBOUND, header, blobs, chunk=1024 * 1024)


@pytest.fixture(scope="module")
def outbound(blobs, desks):
    header = outbound_header(replies=[{"case_id": "0" * 32, "seq": 1, "blob": 2}])
    return header, write(OUTBOUND, header, blobs, desks[0].sign_secret, chunk=700_000)


@pytest.fixture(scope="module")
def small_in():
    return write(INBOUND, inbound_header(), [b"", b"abc", os.urandom(40)])


@pytest.fixture(scope="module")
def small_out(desks):
    return write(OUTBOUND, outbound_header(), [b"reply-1", b"", os.urandom(30)], desks[0].sign_secret)


# --- round trips -------------------------------------------------------------------------


def test_inbound_round_trip(inbound, blobs):
    header, data = inbound
    b = read(data, INBOUND)
    assert b.direction == INBOUND and b.signer is None
    assert b.header == dict(header, blobs=[len(x) for x in blobs])
    assert b.blob_sizes == tuple(len(x) for x in blobs)
    f = io.BytesIO(data)
    for i, blob in enumerate(blobs):
        assert b.read_blob(f, i) == blob
        assert b"".join(b.iter_blob(f, i, chunk=4096)) == blob
    # Blobs can be read in any order, repeatedly.
    assert b.read_blob(f, 3) == blobs[3] and b.read_blob(f, 2) == blobs[2]


def test_outbound_round_trip(outbound, blobs, desks, verified_manifest):
    header, data = outbound
    b = read(data, OUTBOUND, verified_manifest)
    assert b.direction == OUTBOUND and b.signer == desks[0].public
    assert b.header == dict(header, blobs=[len(x) for x in blobs])
    f = io.BytesIO(data)
    assert [b.read_blob(f, i) for i in range(len(blobs))] == blobs


def test_every_desk_can_sign(desks, verified_manifest):
    for desk in desks:
        data = write(OUTBOUND, outbound_header(desk.id), [b"x"], desk.sign_secret)
        assert read(data, OUTBOUND, verified_manifest).signer == desk.public


def test_no_blobs(desks, verified_manifest):
    assert read(write(INBOUND, inbound_header(), []), INBOUND).blob_sizes == ()
    data = write(OUTBOUND, outbound_header(), [], desks[0].sign_secret)
    assert read(data, OUTBOUND, verified_manifest).blob_sizes == ()


def test_layout_matches_protocol(outbound, blobs, desks):
    header, data = outbound
    assert data[:8] == b"QLBUNDLE" and data[8] == 1 and data[9] == ord("O")
    h = struct.unpack(">I", data[10:14])[0]
    header_bytes = data[14 : 14 + h]
    assert header_bytes == json_bytes(dict(header, blobs=[len(x) for x in blobs]))
    assert data[14 + h : 14 + h + sum(map(len, blobs))] == b"".join(blobs)
    body_end = 14 + h + sum(map(len, blobs))
    digest = hashlib.blake2b(data[:body_end], digest_size=32, key=b"quietline/bundle/v1").digest()
    assert data[body_end : body_end + 32] == digest
    assert len(data) == body_end + 32 + 64
    signing.verify("bundle", digest, data[body_end + 32 :], desks[0].sign_public)


def test_inbound_layout(small_in):
    assert small_in[9] == ord("I")
    r = regions(small_in, INBOUND)
    assert len(small_in) == r["digest_start"] + 32


def test_header_blobs_field_is_written_by_the_writer():
    data = write(INBOUND, inbound_header(blobs=[999, 1]), [b"ab"])
    assert read(data, INBOUND).header["blobs"] == [2]


def test_writer_refuses_inconsistent_calls(desks):
    with pytest.raises(ValueError):
        write_bundle(io.BytesIO(), INBOUND, inbound_header(), [], desks[0].sign_secret)
    with pytest.raises(ValueError):
        write_bundle(io.BytesIO(), OUTBOUND, outbound_header(), [])
    with pytest.raises(ValueError):
        write_bundle(io.BytesIO(), INBOUND, inbound_header(), [(5, [b"abcd"])])
    with pytest.raises(ValueError):
        write_bundle(io.BytesIO(), INBOUND, inbound_header(), [(3, [b"ab", b"cd"])])


def test_outbound_needs_a_manifest(small_out):
    with pytest.raises(ValueError):
        read(small_out, OUTBOUND)


# --- corruption --------------------------------------------------------------------------


def _expected(pos: int, data: bytes, direction: str) -> set[str]:
    r = regions(data, direction)
    if pos < 8:
        return {"bad_bundle"}
    if pos == 8:
        return {"unsupported_version"}
    if pos == 9:
        return {"wrong_direction"}
    if pos < r["header_end"]:  # the length field and the header JSON
        return {"bad_bundle", "truncated", "too_large", "bundle_corrupted"}
    if pos < r["digest_start"] + 32:  # blobs and digest
        return {"bundle_corrupted"}
    return {"bad_signature"}


@pytest.mark.parametrize("direction", [INBOUND, OUTBOUND])
def test_every_byte_flip_in_a_small_bundle(direction, small_in, small_out, verified_manifest):
    data = small_in if direction == INBOUND else small_out
    seen = set()
    for pos in range(len(data)):
        for mask in (0x01, 0x20, 0x80, 0xFF):
            bad = bytearray(data)
            bad[pos] ^= mask
            exc = expect_protocol_error(read, bytes(bad), direction, verified_manifest)
            assert exc is not None, f"flip {mask:#x} at {pos} was accepted"
            assert exc.code in _expected(pos, data, direction), (pos, mask, exc.code)
            seen.add(exc.code)
    assert "bundle_corrupted" in seen


@pytest.mark.parametrize("which", ["inbound", "outbound"])
def test_byte_flips_in_a_large_bundle(which, inbound, outbound, verified_manifest):
    data = (inbound if which == "inbound" else outbound)[1]
    direction = INBOUND if which == "inbound" else OUTBOUND
    r = regions(data, direction)
    rng = random.Random(8)
    positions = [r["header_end"], r["header_end"] + 1, r["digest_start"] - 1, r["digest_start"], r["digest_start"] + 31]
    positions += [rng.randrange(r["header_end"], r["digest_start"]) for _ in range(12)]
    for pos in positions:
        bad = bytearray(data)
        bad[pos] ^= 1 << rng.randrange(8)
        with raises_code("bundle_corrupted"):
            read(bytes(bad), direction, verified_manifest)


@pytest.mark.parametrize("direction", [INBOUND, OUTBOUND])
def test_truncated_anywhere(direction, small_in, small_out, verified_manifest):
    data = small_in if direction == INBOUND else small_out
    for cut in range(len(data)):
        with raises_code("bad_bundle" if cut < 14 else "truncated"):
            read(data[:cut], direction, verified_manifest)


def test_truncated_large(inbound):
    data = inbound[1]
    for cut in (len(data) - 1, len(data) - 32, len(data) - 33, len(data) // 2, 200):
        with raises_code("truncated"):
            read(data[:cut], INBOUND)


@pytest.mark.parametrize("garbage", [b"\x00", b"x" * 100, bytes(64)])
def test_trailing_garbage(small_in, small_out, verified_manifest, garbage):
    with raises_code("bad_bundle"):
        read(small_in + garbage, INBOUND)
    with raises_code("bad_bundle"):
        read(small_out + garbage, OUTBOUND, verified_manifest)


def test_inbound_with_a_signature_appended(small_in, desks):
    # An unsigned bundle with 64 extra bytes is not an outbound bundle in disguise.
    with raises_code("bad_bundle"):
        read(small_in + bytes(64), INBOUND)


def test_digest_with_another_key(small_in):
    body = small_in[:-32]
    for digest in (hashlib.blake2b(body, digest_size=32).digest(),
                   hashlib.blake2b(body, digest_size=32, key=b"quietline/bundle/v2").digest(),
                   hashlib.sha256(body).digest()):
        with raises_code("bundle_corrupted"):
            read(body + digest, INBOUND)


# --- framing -----------------------------------------------------------------------------


def test_wrong_direction(small_in, small_out, verified_manifest):
    with raises_code("wrong_direction"):
        read(small_in, OUTBOUND, verified_manifest)
    with raises_code("wrong_direction"):
        read(small_out, INBOUND)
    for byte in (b"i", b"o", b"\x00", b"X"):
        with raises_code("wrong_direction"):
            read(small_in[:9] + byte + small_in[10:], INBOUND)


@pytest.mark.parametrize("magic", [b"QLBUNDLF", b"qlbundle", b"QLEN\x01\x01\x01\x00", bytes(8)])
def test_wrong_magic(small_in, magic):
    with raises_code("bad_bundle"):
        read(magic + small_in[8:], INBOUND)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_wrong_version(small_in, version):
    with raises_code("unsupported_version"):
        read(small_in[:8] + bytes([version]) + small_in[9:], INBOUND)


@pytest.mark.parametrize("data", [b"", b"QLBUNDLE", b"QLBUNDLE\x01I\x00\x00\x00"])
def test_too_short_for_a_prefix(data):
    with raises_code("bad_bundle"):
        read(data, INBOUND)


def test_header_too_large():
    for length in (16 * 1024 * 1024 + 1, 2**32 - 1):
        data = struct.pack(">8sBBI", b"QLBUNDLE", 1, ord("I"), length) + b"{}"
        with raises_code("too_large"):
            read(data, INBOUND)
    # Exactly the limit is allowed by the framing (and then the file is too short).
    data = struct.pack(">8sBBI", b"QLBUNDLE", 1, ord("I"), 16 * 1024 * 1024) + b"{}"
    with raises_code("truncated"):
        read(data, INBOUND)


def _header(**fields) -> bytes:
    h = {"v": 1, "bundle_id": "a" * 32, "blobs": []}
    for k, v in fields.items():
        if v is KeyError:
            h.pop(k, None)
        else:
            h[k] = v
    return json.dumps(h).encode()


def test_crafted_helper_reads():
    assert read(craft(INBOUND, _header(blobs=[3]), b"abc"), INBOUND).blob_sizes == (3,)


@pytest.mark.parametrize("sizes", [KeyError, None, 5, "3", {"0": 3}, [-1], [1.0], [True], ["1"], [None], [[1]]])
def test_bad_blob_sizes(sizes):
    with raises_code("bad_bundle"):
        read(craft(INBOUND, _header(blobs=sizes), b"x"), INBOUND)


def test_too_many_blobs():
    header = b'{"v":1,"bundle_id":"' + b"a" * 32 + b'","blobs":[' + b",".join([b"0"] * 1_000_001) + b"]}"
    with raises_code("bad_bundle"):
        read(craft(INBOUND, header), INBOUND)


def test_blob_sizes_larger_than_the_file():
    with raises_code("truncated"):
        read(craft(INBOUND, _header(blobs=[10**15]), b"abc"), INBOUND)
    with raises_code("truncated"):
        read(craft(INBOUND, _header(blobs=[2, 10**12]), b"abc"), INBOUND)


def test_blob_sizes_smaller_than_the_blobs():
    # The digest then sits in the wrong place: refused one way or another, never read.
    for sizes in ([2], [0], [1, 1]):
        exc = expect_protocol_error(read, craft(INBOUND, _header(blobs=sizes), b"abc"), INBOUND)
        assert exc is not None and exc.code in ("bad_bundle", "bundle_corrupted")


@pytest.mark.parametrize("fields", [{"v": KeyError}, {"v": 2}, {"v": "1"}, {"v": True}, {"bundle_id": KeyError},
                                    {"bundle_id": "A" * 32}, {"bundle_id": "a" * 31}, {"bundle_id": "a" * 33},
                                    {"bundle_id": "a" * 32 + "\n"}, {"bundle_id": "g" * 32}, {"bundle_id": 5}])
def test_bad_version_or_bundle_id(fields):
    with raises_code("bad_bundle"):
        read(craft(INBOUND, _header(**fields)), INBOUND)


@pytest.mark.parametrize("header", [b"", b"not json", b"[]", b"null", b"\xff\xfe", b'{"v":1',
                                    b'{"v":' + b"1" * 5000 + b"}", b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"])
def test_header_not_a_json_object(header):
    # Including hostile JSON (an integer past Python's digit limit, deep nesting).
    with raises_code("bad_bundle"):
        read(craft(INBOUND, header), INBOUND)


def test_header_length_pointing_into_the_blobs():
    data = craft(INBOUND, _header(blobs=[3]), b"abc")
    h = struct.unpack(">I", data[10:14])[0]
    for delta in (-1, 1, 3):
        with raises_code("bad_bundle"):
            read(data[:10] + struct.pack(">I", h + delta) + data[14:], INBOUND)


def test_read_blob_index_out_of_range(small_in):
    b = read(small_in, INBOUND)
    f = io.BytesIO(small_in)
    for index in (-1, 3, 100):
        with raises_code("bad_bundle"):
            b.read_blob(f, index)


def test_read_blob_from_a_file_cut_after_checking(inbound):
    data = inbound[1]
    b = read(data, INBOUND)
    with raises_code("truncated"):
        b.read_blob(io.BytesIO(data[: b.blob_offsets[2] + 10]), 2)


# --- signatures --------------------------------------------------------------------------


def test_signed_by_desk_not_in_manifest(outsider, verified_manifest):
    data = write(OUTBOUND, outbound_header(outsider.id), [b"x"], outsider.sign_secret)
    with raises_code("unknown_desk"):
        read(data, OUTBOUND, verified_manifest)


def test_header_names_no_desk(desks, verified_manifest):
    header = outbound_header()
    del header["desk"]
    data = write(OUTBOUND, header, [b"x"], desks[0].sign_secret)
    with raises_code("unknown_desk"):
        read(data, OUTBOUND, verified_manifest)


def test_names_desk_a_signed_by_desk_b(desks, verified_manifest):
    data = write(OUTBOUND, outbound_header(desks[0].id), [b"x"], desks[1].sign_secret)
    with raises_code("bad_signature"):
        read(data, OUTBOUND, verified_manifest)


def test_names_known_desk_signed_by_outsider(desks, outsider, verified_manifest):
    data = write(OUTBOUND, outbound_header(desks[0].id), [b"x"], outsider.sign_secret)
    with raises_code("bad_signature"):
        read(data, OUTBOUND, verified_manifest)


def test_signature_moved_between_bundles(desks, verified_manifest):
    a = write(OUTBOUND, outbound_header(), [b"one"], desks[0].sign_secret)
    b = write(OUTBOUND, outbound_header(), [b"two"], desks[0].sign_secret)
    with raises_code("bad_signature"):
        read(b[:-64] + a[-64:], OUTBOUND, verified_manifest)


def test_signature_for_another_purpose(desks, verified_manifest):
    body = write(OUTBOUND, outbound_header(), [b"x"], desks[0].sign_secret)[:-64]
    digest = body[-32:]
    for purpose in ("report", "followup", "reply", "manifest"):
        with raises_code("bad_signature"):
            read(body + signing.sign(purpose, digest, desks[0].sign_secret), OUTBOUND, verified_manifest)


def test_inbound_bundle_signed_like_an_outbound_one(desks, verified_manifest):
    # An inbound header, signed and marked 'O': it names no desk, so no desk vouches for it.
    data = craft(OUTBOUND, json.dumps({"v": 1, "bundle_id": "b" * 32, "blobs": []}).encode(),
                 sign_secret=desks[0].sign_secret)
    with raises_code("unknown_desk"):
        read(data, OUTBOUND, verified_manifest)


# --- arbitrary input ---------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([INBOUND, OUTBOUND]))
def test_random_bytes_only_raise_protocol_error(data, direction):
    with pytest.raises(ProtocolError):
        read_bundle(io.BytesIO(data), direction, _MANIFEST)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([INBOUND, OUTBOUND]), st.integers(0, 500))
def test_random_bytes_after_a_valid_prefix(rest, direction, length):
    data = struct.pack(">8sBBI", b"QLBUNDLE", 1, ord(direction), length) + rest
    with pytest.raises(ProtocolError):
        read_bundle(io.BytesIO(data), direction, _MANIFEST)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.text(max_size=34),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10,
)


header_fields = st.fixed_dictionaries(
    {
        "v": st.sampled_from([1] * 6 + [0, 2, "1", None, True]),
        "bundle_id": st.sampled_from(["a" * 32, "0123456789abcdef" * 2] * 3 + ["A" * 32, "a" * 31, "", None]),
        "blobs": st.lists(st.integers(0, 120), max_size=4) | st.lists(st.integers(0, 120), max_size=4) | json_values,
    },
    optional={"desk": json_values, "x": json_values},
)


@settings(max_examples=400, deadline=None)
@given(header_fields, st.data())
def test_random_headers_with_valid_digest(header, draw):
    # Whatever the header says, reading never raises anything but ProtocolError, and an
    # accepted bundle has a valid version and id and blobs that exactly fill its body.
    sizes = header.get("blobs")
    if isinstance(sizes, list) and all(isinstance(n, int) and n >= 0 for n in sizes):
        length = max(0, sum(sizes) + draw.draw(st.sampled_from([0, 0, 0, 1, -1, 40]), label="delta"))
    else:
        length = draw.draw(st.integers(0, 100), label="length")
    body = os.urandom(length)
    data = craft(INBOUND, json.dumps(header).encode(), body)
    try:
        b = read(data, INBOUND)
    except ProtocolError as exc:
        assert exc.code in ("bad_bundle", "truncated", "bundle_corrupted")
        return
    event("accepted")
    assert header["v"] == 1 and len(header["bundle_id"]) == 32
    assert sum(b.blob_sizes) == len(body)
    f = io.BytesIO(data)
    assert b"".join(b.read_blob(f, i) for i in range(len(b.blob_sizes))) == body


@pytest.fixture(autouse=True, scope="module")
def _share_manifest(verified_manifest):
    global _MANIFEST
    _MANIFEST = verified_manifest
    yield


_MANIFEST = None


def test_module_constants():
    assert bundle_mod.MAGIC == b"QLBUNDLE" and bundle_mod.VERSION == 1
    assert bundle_mod.MAX_HEADER == 16 * 1024 * 1024 and bundle_mod.DIGEST_BYTES == 32
