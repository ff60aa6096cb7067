"""The Python reference (crypto/) passes every shared vector in tests/vectors/*.json.

The browser runs the same files (tests/vectors/test_vectors_browser.py). Every list in every
file is a section, and every section has a handler here: test_every_section_is_checked fails
if generate.py gains a section nobody checks. Python also does what only desks can: it opens
the envelopes the vectors carry.
"""

import base64
import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from crypto import attachment, casekey, envelope, kdf, manifest, padding, reply, report, signing, upload
from crypto import pow as pow_
from crypto.attachment import AttachmentOpener, AttachmentSealer, StreamParams
from crypto.desk import DeskKeys
from crypto.encoding import b64decode, b64encode, json_bytes, json_load
from crypto.errors import ProtocolError

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
FILES = ("encoding", "casekey", "kdf", "padding", "signing", "manifest", "envelope", "attachment", "reply", "report",
         "upload", "pow")
_cache: dict[str, dict] = {}


def load(name: str) -> dict:
    if name not in _cache:
        _cache[name] = json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))
    return _cache[name]


def pattern(length: int) -> bytes:
    return bytes((31 * i + 7) & 255 for i in range(length))


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def expect_code(fn, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        fn()
    assert info.value.code == code, info.value


HANDLERS = {}


def section(file: str, name: str):
    def register(fn):
        HANDLERS[(file, name)] = fn
        return fn

    return register


# ---------------------------------------------------------------- encoding


@section("encoding", "json")
def _(v, d):
    assert json_bytes(v["value"]).hex() == v["bytes_hex"]


@section("encoding", "json_errors")
def _(v, d):
    expect_code(lambda: json_bytes(v["value"]), v["code"])


@section("encoding", "json_load")
def _(v, d):
    assert json_load(bytes.fromhex(v["bytes_hex"]), what="vector") == v["value"]


@section("encoding", "json_load_errors")
def _(v, d):
    expect_code(lambda: json_load(bytes.fromhex(v["bytes_hex"]), what="vector"), v["code"])


@section("encoding", "base64")
def _(v, d):
    assert b64encode(bytes.fromhex(v["bytes_hex"])) == v["text"]
    assert b64decode(v["text"]).hex() == v["bytes_hex"]


@section("encoding", "base64_errors")
def _(v, d):
    expect_code(lambda: b64decode(v["text"]), v["code"])


@section("encoding", "base64_length_errors")
def _(v, d):
    expect_code(lambda: b64decode(v["text"], length=v["length"]), v["code"])


# ---------------------------------------------------------------- case key


@section("casekey", "encode")
def _(v, d):
    assert casekey.encode(bytes.fromhex(v["key_hex"])) == v["text"]
    assert casekey.parse(v["text"]).hex() == v["key_hex"]


@section("casekey", "encode_errors")
def _(v, d):
    expect_code(lambda: casekey.encode(bytes.fromhex(v["key_hex"])), v["code"])


@section("casekey", "parse")
def _(v, d):
    assert casekey.normalize(v["input"]) == v["normalized"]
    assert casekey.parse(v["input"]).hex() == v["key_hex"]


@section("casekey", "normalize_errors")
def _(v, d):
    expect_code(lambda: casekey.normalize(v["input"]), v["code"])


@section("casekey", "parse_errors")
def _(v, d):
    expect_code(lambda: casekey.parse(v["input"]), v["code"])


# ---------------------------------------------------------------- kdf


@section("kdf", "cases")
def _(v, d):
    key = bytes.fromhex(v["case_key_hex"])
    assert casekey.parse(v["case_key_text"]) == key
    keys = kdf.derive_case_keys(key)
    assert keys.lookup.hex() == v["lookup_hex"]
    assert keys.reply_public.hex() == v["reply_public_hex"]
    assert keys.reply_secret.hex() == v["reply_secret_hex"]
    assert keys.sign_public.hex() == v["sign_public_hex"]
    assert keys.sign_secret.hex() == v["sign_secret_hex"]
    assert kdf.case_id(keys.lookup) == v["case_id"]


@section("kdf", "kdf_derive")
def _(v, d):
    got = kdf.kdf_derive(bytes.fromhex(v["master_hex"]), v["subkey_id"], v["context"].encode(), v["length"])
    assert got.hex() == v["subkey_hex"]


@section("kdf", "errors")
def _(v, d):
    fn = {"derive_case_keys": kdf.derive_case_keys, "case_id": kdf.case_id}[v["function"]]
    expect_code(lambda: fn(bytes.fromhex(v["input_hex"])), v["code"])


# ---------------------------------------------------------------- padding


@section("padding", "messages")
def _(v, d):
    data = pattern(v["length"])
    padded = padding.pad_message(data)
    assert len(padded) == v["bucket"] == padding.message_bucket(v["length"])
    assert hashlib.blake2b(padded, digest_size=32).hexdigest() == v["padded_blake2b_hex"]
    if "padded_hex" in v:
        assert padded.hex() == v["padded_hex"]
    assert padding.unpad_message(padded) == data


@section("padding", "too_large")
def _(v, d):
    expect_code(lambda: padding.message_bucket(v["length"]), v["code"])
    expect_code(lambda: padding.pad_message(bytes(v["length"])), v["code"])


@section("padding", "unpad_ok")
def _(v, d):
    assert padding.unpad_message(bytes.fromhex(v["padded_hex"])).hex() == v["data_hex"]


@section("padding", "unpad_errors")
def _(v, d):
    expect_code(lambda: padding.unpad_message(bytes.fromhex(v["padded_hex"])), v["code"])


@section("padding", "chunk_counts")
def _(v, d):
    assert padding.chunk_count_bucket(v[0]) == v[1]


@section("padding", "chunk_count_errors")
def _(v, d):
    expect_code(lambda: padding.chunk_count_bucket(v["chunks"]), v["code"])


@section("padding", "is_chunk_count_bucket")
def _(v, d):
    assert padding.is_chunk_count_bucket(v[0]) is v[1]


# ---------------------------------------------------------------- signing


@section("signing", "signatures")
def _(v, d):
    data = bytes.fromhex(v["data_hex"])
    assert signing.sign(v["purpose"], data, bytes.fromhex(d["secret_hex"])).hex() == v["signature_hex"]
    signing.verify(v["purpose"], data, bytes.fromhex(v["signature_hex"]), bytes.fromhex(d["public_hex"]))


@section("signing", "verify_errors")
def _(v, d):
    expect_code(
        lambda: signing.verify(
            v["purpose"], bytes.fromhex(v["data_hex"]), bytes.fromhex(v["signature_hex"]), bytes.fromhex(v["public_hex"])
        ),
        v["code"],
    )


# ---------------------------------------------------------------- manifest


def manifest_view(m: manifest.Manifest) -> dict:
    return {
        "org": m.org,
        "issued": m.issued,
        "desks": [
            {"id": x.id, "name": x.name, "box_public_hex": x.box_public.hex(), "sign_public_hex": x.sign_public.hex(),
             "key_id_hex": x.key_id.hex()}
            for x in m.desks
        ],
    }


@section("manifest", "valid")
def _(v, d):
    parsed = manifest.verify_manifest(b64(v["file_b64"]), bytes.fromhex(d["root_public_hex"]))
    assert manifest_view(parsed) == v["expect"]


@section("manifest", "invalid")
def _(v, d):
    expect_code(lambda: manifest.verify_manifest(b64(v["file_b64"]), bytes.fromhex(v["root_public_hex"])), v["code"])


@section("manifest", "fingerprints")
def _(v, d):
    assert manifest.fingerprint(bytes.fromhex(v["public_hex"])) == v["fingerprint"]


@section("manifest", "key_ids")
def _(v, d):
    desk = manifest.DeskPublic("x", "", bytes.fromhex(v["box_public_hex"]), bytes.fromhex(v["sign_public_hex"]))
    assert desk.key_id.hex() == v["key_id_hex"]


# ---------------------------------------------------------------- envelope


def envelope_desks(d: dict) -> dict[str, DeskKeys]:
    return {
        x["id"]: DeskKeys(x["id"], x["name"], bytes.fromhex(x["box_public_hex"]), bytes.fromhex(x["box_secret_hex"]),
                          bytes.fromhex(x["sign_public_hex"]), bytes.fromhex(x["sign_secret_hex"]))
        for x in d["desks"]
    }


@section("envelope", "desks")
def _(v, d):
    from nacl.bindings import crypto_scalarmult_base

    assert crypto_scalarmult_base(bytes.fromhex(v["box_secret_hex"])).hex() == v["box_public_hex"]
    assert bytes.fromhex(v["sign_secret_hex"])[32:].hex() == v["sign_public_hex"]
    desk = manifest.DeskPublic(v["id"], v["name"], bytes.fromhex(v["box_public_hex"]), bytes.fromhex(v["sign_public_hex"]))
    assert desk.key_id.hex() == v["key_id_hex"]


@section("envelope", "valid")
def _(v, d):
    data = b64(v["envelope_b64"])
    header = envelope.parse_header(data, expect_kind=v["kind"])
    assert header.kind == v["kind"]
    assert header.header_length == v["header_length"]
    assert [r.hex() for r in header.recipients] == v["recipients_hex"]
    case_sign_public = bytes.fromhex(d["case_sign_public_hex"])
    opened_by = 0
    for desk in envelope_desks(d).values():
        if desk.public.key_id.hex() in v["recipients_hex"]:
            opened = envelope.open_envelope(data, desk.public, desk.box_secret)
            opened.verify(case_sign_public)
            assert opened.kind == v["kind"]
            assert opened.body == v["body"]
            assert json_bytes(opened.body) == opened.body_bytes  # the sealer wrote canonical JSON
            opened_by += 1
        else:
            expect_code(lambda: envelope.open_envelope(data, desk.public, desk.box_secret), "not_a_recipient")
    assert opened_by == len(v["recipients_hex"]) > 0


@section("envelope", "invalid")
def _(v, d):
    data = b64(v["envelope_b64"])
    desk = envelope_desks(d)[v["desk"]]
    expect_code(lambda: envelope.open_envelope(data, desk.public, desk.box_secret), v["code"])
    if v["framing"]:
        expect_code(lambda: envelope.parse_header(data), v["code"])
    else:
        envelope.parse_header(data)


@section("envelope", "wrong_kind")
def _(v, d):
    expect_code(lambda: envelope.parse_header(b64(v["envelope_b64"]), expect_kind=v["expect_kind"]), v["code"])


# ---------------------------------------------------------------- attachment


def stream_params(s: dict) -> StreamParams:
    return StreamParams(bytes.fromhex(s["key_hex"]), bytes.fromhex(s["header_hex"]), s["size"], s["chunks"])


@section("attachment", "chunks_for_size")
def _(v, d):
    assert attachment.chunks_for_size(v[0]) == v[1]


@section("attachment", "streams")
def _(s, d):
    cc = d["chunk_ciphertext"]
    data = b64(s["ciphertext_b64"])
    assert len(data) == s["chunks"] * cc
    assert attachment.open_bytes(stream_params(s), data) == pattern(s["size"])
    opener = AttachmentOpener(stream_params(s))
    parts = [opener.open_chunk(data[i * cc:(i + 1) * cc]) for i in range(s["chunks"])]
    opener.finish()
    assert b"".join(parts) == pattern(s["size"])


@section("attachment", "tampered")
def _(t, d):
    cc = d["chunk_ciphertext"]
    s = d["streams"][t["stream"]]
    params, data = stream_params(s), bytearray(b64(s["ciphertext_b64"]))
    for op in t["ops"]:
        if "flip" in op:
            data[op["flip"]] ^= 1
        elif "swap_chunks" in op:
            a, b = op["swap_chunks"]
            ca, cb = bytes(data[a * cc:(a + 1) * cc]), bytes(data[b * cc:(b + 1) * cc])
            data[a * cc:(a + 1) * cc], data[b * cc:(b + 1) * cc] = cb, ca
        elif "truncate" in op:
            del data[len(data) - op["truncate"]:]
        elif "duplicate_chunk" in op:
            i = op["duplicate_chunk"]
            data[(i + 1) * cc:(i + 1) * cc] = data[i * cc:(i + 1) * cc]
        elif "append_zeros" in op:
            data += bytes(op["append_zeros"])
        elif "params" in op:
            q = op["params"]
            header = params.header
            if "header_flip" in q:
                flipped = bytearray(header)
                flipped[q["header_flip"]] ^= 1
                header = bytes(flipped)
            if "header_hex" in q:
                header = bytes.fromhex(q["header_hex"])
            key = bytes.fromhex(q["key_hex"]) if "key_hex" in q else params.key
            params = StreamParams(key, header, q.get("size", params.size), q.get("chunks", params.chunks))
        else:
            raise AssertionError(f"unknown op {op}")
    expect_code(lambda: attachment.open_bytes(params, bytes(data)), t["code"])


@section("attachment", "streaming_errors")
def _(t, d):
    s = d["streams"][t["stream"]]
    data = b64(s["ciphertext_b64"]) + bytes(d["chunk_ciphertext"])

    def run():
        opener = AttachmentOpener(stream_params(s))
        for start, length in t["feed"]:
            opener.open_chunk(data[start:start + length])
        if t.get("finish"):
            opener.finish()

    expect_code(run, t["code"])


@section("attachment", "sealer_errors")
def _(t, d):
    def run():
        sealer = AttachmentSealer(t["size"])
        for n in t["feed"]:
            sealer.seal_chunk(pattern(n))

    expect_code(run, t["code"])


# ---------------------------------------------------------------- reply


def reply_context(d: dict):
    parsed = manifest.verify_manifest(b64(d["manifest_b64"]), bytes.fromhex(d["root_public_hex"]))
    cases = {}
    for name, c in d["cases"].items():
        keys = kdf.derive_case_keys(casekey.parse(c["case_key_text"]))
        assert kdf.case_id(keys.lookup) == c["case_id"]
        cases[name] = (keys, c["case_id"])
    return parsed, cases


def open_vector(v, d) -> reply.Reply:
    parsed, cases = reply_context(d)
    keys, cid = cases[v["case"]]
    return reply.open_reply(b64(v["blob_b64"]), parsed, keys.reply_public, keys.reply_secret, cid)


@section("reply", "valid")
@section("reply", "notice_valid")
def _(v, d):
    r = open_vector(v, d)
    e = v["expect"]
    assert (r.case_id, r.seq, r.status, r.text, r.day, r.desk, r.notice) == (
        e["case_id"], e["seq"], e["status"], e["text"], e["day"], e["desk"], e.get("notice"))


@section("reply", "invalid")
@section("reply", "notice_invalid")
def _(v, d):
    expect_code(lambda: open_vector(v, d), v["code"])


@section("reply", "served")
def _(v, d):
    parsed, cases = reply_context(d)
    keys, cid = cases[v["case"]]
    served = [(e["seq"], b64(e["blob_b64"])) for e in v["served"]]
    outcomes = reply.open_replies(served, parsed, keys.reply_public, keys.reply_secret, cid)
    got = [{"code": o.code} if isinstance(o, ProtocolError) else {"seq": o.seq} for o in outcomes]
    assert got == v["expect"]


# ---------------------------------------------------------------- report schema


def as_json(value) -> dict:
    """A parsed Report or FollowupUpdate as the vectors write it (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(value)))


def expect_refusal(fn, code: str, path: str) -> None:
    with pytest.raises(report.SchemaError) as info:
        fn()
    assert (info.value.code, info.value.path) == (code, path), info.value


@section("report", "taxonomy")
def _(v, d):
    assert getattr(report, v["name"]) == tuple(v["values"])


@section("report", "constants")
def _(v, d):
    assert getattr(report, v["name"]) == v["value"]


@section("report", "valid")
def _(v, d):
    assert as_json(report.parse_report(v["value"])) == v["expect"]


@section("report", "invalid")
def _(v, d):
    expect_refusal(lambda: report.parse_report(v["value"]), v["code"], v["path"])


@section("report", "followup_valid")
def _(v, d):
    assert as_json(report.parse_followup_update(v["body"])) == v["expect"]


@section("report", "followup_invalid")
def _(v, d):
    expect_refusal(lambda: report.parse_followup_update(v["body"]), v["code"], v["path"])


# ---------------------------------------------------------------- resumable uploads


def upload_content(size: int, flip: int | None) -> bytes:
    data = bytearray(pattern(size))
    if flip is not None:
        data[flip] ^= 1
    return bytes(data)


def seal_all(sealer: AttachmentSealer, data: bytes) -> list[bytes]:
    c = attachment.CHUNK_PLAINTEXT
    return [sealer.seal_chunk(data[i * c:(i + 1) * c]) for i in range(sealer.params.chunks)]


@section("upload", "derivations")
def _(v, d):
    key = bytes.fromhex(v["case_key_hex"])
    assert casekey.parse(v["case_key_text"]) == key
    root = upload.upload_root(key)
    assert root.hex() == v["upload_root_hex"]
    digest = upload.file_hash([upload_content(v["size"], v.get("flip"))])
    assert digest.hex() == v["file_hash_hex"]
    handle = upload.resume(root, digest)
    assert handle.hex() == v["resume_hex"]
    assert upload.stream_key(root, digest).hex() == v["stream_key_hex"]
    assert upload.resume_index(handle) == v["resume_index"]
    assert upload.upload_keys(key, digest) == (handle, bytes.fromhex(v["stream_key_hex"]))


@section("upload", "file_hash")
def _(v, d):
    data, at, pieces = pattern(v["size"]), 0, []
    for n in v["pieces"]:
        pieces.append(data[at:at + n])
        at += n
    assert upload.file_hash(pieces).hex() == v["file_hash_hex"]
    assert upload.file_hash(iter(pieces)).hex() == v["file_hash_hex"]  # any iterable, read once


@section("upload", "resumed_streams")
def _(v, d):
    der = d["derivations"][v["derivation"]]
    data = upload_content(der["size"], der.get("flip"))
    key = upload.stream_key(upload.upload_root(bytes.fromhex(der["case_key_hex"])), upload.file_hash([data]))
    assert key.hex() == v["stream_key_hex"] == der["stream_key_hex"]
    resumed = AttachmentSealer(v["size"], key, bytes.fromhex(v["header_hex"]))
    assert resumed.params.chunks == v["chunks"]
    chunks = seal_all(resumed, data)
    assert [hashlib.blake2b(c, digest_size=32).hexdigest() for c in chunks] == v["chunk_blake2b_hex"]
    assert attachment.open_bytes(resumed.params, b"".join(chunks)) == data
    first = AttachmentSealer(v["size"], key)
    before = seal_all(first, data)[: v["sent_before_drop"]]
    after = seal_all(AttachmentSealer(v["size"], key, first.params.header), data)
    assert after[: len(before)] == before
    assert attachment.open_bytes(first.params, b"".join(before + after[len(before):])) == data


@section("upload", "errors")
def _(v, d):
    a = {k: bytes.fromhex(x) if k.endswith("_hex") else x for k, x in v["args"].items()}
    fn = {
        "upload_root": lambda: upload.upload_root(a["case_key_hex"]),
        "resume": lambda: upload.resume(a["root_hex"], a["digest_hex"]),
        "stream_key": lambda: upload.stream_key(a["root_hex"], a["digest_hex"]),
        "resume_index": lambda: upload.resume_index(a["handle_hex"]),
        "resume_sealer": lambda: AttachmentSealer(a["size"], a["key_hex"], a["header_hex"]),
    }[v["function"]]
    expect_code(fn, v["code"])


# ---------------------------------------------------------------- proof of work


@section("pow", "challenges")
def _(v, d):
    key = bytes.fromhex(v["key_hex"])
    made = pow_.make_challenge(key, v["purpose"], v["difficulty"], v["expires"], bytes.fromhex(v["random_hex"]))
    assert made.hex() == v["challenge_hex"]
    opened = pow_.open_challenge(key, made)
    assert (opened.purpose, opened.difficulty, opened.expires, opened.random.hex()) == (
        v["purpose"], v["difficulty"], v["expires"], v["random_hex"])


@section("pow", "challenge_errors")
def _(v, d):
    expect_code(lambda: pow_.parse_challenge(bytes.fromhex(v["challenge_hex"])), v["code"])


@section("pow", "mac_errors")
def _(v, d):
    data = bytes.fromhex(v["challenge_hex"])
    pow_.parse_challenge(data)  # well formed: only the key tells
    expect_code(lambda: pow_.open_challenge(bytes.fromhex(v["key_hex"]), data), v["code"])


@section("pow", "bindings")
def _(v, d):
    binding = {
        pow_.REPORT: lambda: pow_.report_binding(v["case_id"]),
        pow_.FOLLOWUP: lambda: pow_.followup_binding(v["case_id"], pattern(v["envelope_size"])),
        pow_.UPLOAD: lambda: pow_.upload_binding(bytes.fromhex(v["resume_hex"])),
    }[v["purpose"]]()
    assert binding.hex() == v["binding_hex"]


@section("pow", "binding_errors")
def _(v, d):
    expect_code(lambda: pow_.work_hash(bytes.fromhex(v["challenge_hex"]), bytes.fromhex(v["binding_hex"]), 0), v["code"])


@section("pow", "work")
def _(v, d):
    digest = pow_.work_hash(bytes.fromhex(v["challenge_hex"]), bytes.fromhex(v["binding_hex"]), v["nonce"])
    assert pow_.nonce_bytes(v["nonce"]).hex() == v["nonce_le64_hex"]
    assert digest.hex() == v["work_hex"]
    assert pow_.leading_zero_bits(digest) == v["zero_bits"]


@section("pow", "solutions")
def _(v, d):
    challenge, binding = bytes.fromhex(v["challenge_hex"]), bytes.fromhex(v["binding_hex"])
    assert pow_.parse_challenge(challenge).difficulty == v["difficulty"]
    assert pow_.solve(challenge, binding) == v["first_nonce"]
    assert pow_.solve(challenge, binding, v["first_nonce"] + 1) == v["next_nonce"]
    assert pow_.is_solution(challenge, binding, v["first_nonce"]) and pow_.is_solution(challenge, binding, v["next_nonce"])
    assert pow_.work_hash(challenge, binding, v["first_nonce"]).hex() == v["work_hex"]


@section("pow", "nonce_errors")
def _(v, d):
    expect_code(lambda: pow_.nonce_bytes(v["nonce"]), v["code"])


@section("pow", "zero_bits")
def _(v, d):
    assert pow_.leading_zero_bits(bytes.fromhex(v["digest_hex"])) == v["bits"]


# ---------------------------------------------------------------- the tests


def list_sections() -> list[tuple[str, str]]:
    return [(f, k) for f in FILES for k, v in load(f).items() if isinstance(v, list)]


@pytest.mark.parametrize("file,name", list_sections(), ids=lambda x: x)
def test_section(file, name):
    data = load(file)
    items = data[name]
    assert len(items) > 0, f"{file}/{name} is empty"
    handler = HANDLERS[(file, name)]
    failures = []
    for i, item in enumerate(items):
        try:
            handler(item, data)
        except (AssertionError, ProtocolError, pytest.fail.Exception) as exc:
            label = item.get("label", "") if isinstance(item, dict) else item
            failures.append(f"[{i}] {label}: {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)


def test_every_section_is_checked():
    """Both ways: no section without a handler, no handler without a section."""
    assert set(list_sections()) == set(HANDLERS)
    assert len(HANDLERS) >= 47
