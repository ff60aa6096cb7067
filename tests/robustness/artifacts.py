"""Valid protocol artifacts, and crafters that authenticate arbitrary contents, for the
property tests (tests/robustness) and the fuzz target's seed corpus (tests/fuzz).

Keys come from fixed seeds so a failure names the same keys on every run. The crafters follow
docs/PROTOCOL.md directly (not crypto/'s writers): they put any header, padding or JSON inside
a correctly encrypted, digested or signed frame, so the parsers' checks behind the
authentication are reached too, which random bytes never get past.
"""

import hashlib
import io
import struct
from dataclasses import dataclass
from functools import cache

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_box_seal,
    crypto_box_seed_keypair,
    crypto_sign_seed_keypair,
)

from crypto import envelope, reply, signing
from crypto.attachment import StreamParams, seal_bytes
from crypto.bundle import INBOUND, OUTBOUND, write_bundle
from crypto.desk import DeskKeys
from crypto.encoding import b64encode, json_bytes
from crypto.kdf import CaseKeys, case_id, derive_case_keys
from crypto.manifest import Manifest, sign_manifest, verify_manifest

DAY = "2026-11-23"
BUNDLE_ID_IN = "0123456789abcdef" * 2
BUNDLE_ID_OUT = "fedcba9876543210" * 2

# Every code docs/PROTOCOL.md lets each reader raise (its "Errors:" lines and the rules that
# apply to every format: bad_base64 and bad_length for base64 values, bad_json for JSON).
CASE_KEY_CODES = frozenset({"case_key_invalid_character", "case_key_wrong_length", "case_key_bad_checksum"})
ENCODING_CODES = frozenset({"bad_base64", "bad_length", "bad_json"})
PADDING_CODES = frozenset({"bad_padding", "too_large"})
ENVELOPE_CODES = frozenset(
    {"bad_envelope", "unsupported_version", "wrong_kind", "bad_recipients", "not_a_recipient",
     "decryption_failed", "bad_padding", "bad_signature", "bad_json"}
)
BUNDLE_CODES = frozenset(
    {"bad_bundle", "unsupported_version", "wrong_direction", "truncated", "bundle_corrupted",
     "bad_signature", "unknown_desk", "too_large"}
)
MANIFEST_CODES = frozenset({"bad_manifest", "unsupported_version", "bad_signature", "unknown_desk"}) | ENCODING_CODES
REPLY_CODES = frozenset(
    {"bad_reply", "unsupported_version", "unknown_desk", "decryption_failed", "bad_padding", "bad_signature",
     "wrong_case", "bad_json"}
)
ATTACHMENT_CODES = frozenset(
    {"truncated", "decryption_failed", "bad_padding", "bad_length", "bad_attachment", "too_many_chunks"}
)
UPLOAD_CODES = frozenset({"bad_length"})
POW_CODES = frozenset({"bad_challenge", "unsupported_version", "bad_mac", "bad_binding", "bad_nonce"})


def _seed(label: str) -> bytes:
    return hashlib.blake2b(label.encode(), digest_size=32).digest()


def desk_keys(desk_id: str) -> DeskKeys:
    box_pk, box_sk = crypto_box_seed_keypair(_seed(f"box {desk_id}"))
    sign_pk, sign_sk = crypto_sign_seed_keypair(_seed(f"sign {desk_id}"))
    return DeskKeys(desk_id, f"Desk {desk_id}", box_pk, box_sk, sign_pk, sign_sk)


@dataclass(frozen=True)
class World:
    root_pk: bytes
    root_sk: bytes
    desks: tuple[DeskKeys, ...]  # desk-1 and desk-2, in the manifest
    outsider: DeskKeys  # not in the manifest
    manifest_bytes: bytes
    manifest: Manifest
    case_key: bytes
    case: CaseKeys
    case_id: str
    report: bytes  # report envelope sealed to both desks
    followup: bytes
    reply: bytes  # reply 1 from desk-1
    attachment: StreamParams
    attachment_data: bytes
    attachment_chunks: tuple[bytes, ...]
    inbound: bytes  # an inbound bundle holding the report, the follow-up and the attachment
    outbound: bytes  # an outbound bundle from desk-1 holding the reply and acknowledgements


@cache
def world() -> World:
    root_pk, root_sk = crypto_sign_seed_keypair(_seed("root"))
    desks = (desk_keys("desk-1"), desk_keys("desk-2"))
    manifest_bytes = sign_manifest(Manifest("Test Organisation", DAY, tuple(d.public for d in desks)), root_sk)
    manifest = verify_manifest(manifest_bytes, root_pk)
    case_key = _seed("case")[:16]
    case = derive_case_keys(case_key)
    cid = case_id(case.lookup)
    data = b"evidence " * 100
    params, chunks = seal_bytes(data, key=_seed("attachment"))
    upload_id = "ab" * 16
    descriptor = {"upload_id": upload_id, "name": "note.txt", "type": "text/plain", "size": params.size,
                  "key": b64encode(params.key), "header": b64encode(params.header), "chunks": params.chunks}
    report_body = {
        "v": 1, "kind": "report", "case_id": cid, "day": DAY, "lang": "en",
        "reply_pk": b64encode(case.reply_public), "sign_pk": b64encode(case.sign_public),
        "report": {"schema": "quietline.report/2", "country": "SY", "text": "I was questioned."},
        "attachments": [descriptor],
    }
    followup_body = {"v": 1, "kind": "followup", "case_id": cid, "id": "cd" * 16, "day": DAY,
                     "text": "More happened.", "attachments": []}
    publics = tuple(d.public for d in desks)
    report = envelope.seal("report", report_body, case.sign_secret, publics)
    followup = envelope.seal("followup", followup_body, case.sign_secret, publics)
    reply_blob = reply.seal_reply(
        reply.Reply(cid, 1, "received", "We have your report.", DAY, "desk-1"), desks[0].public,
        desks[0].sign_secret, case.reply_public,
    )
    inbound_header = {
        "v": 1, "bundle_id": BUNDLE_ID_IN, "day": DAY, "confirmed_outbound": [],
        "items": [
            {"type": "report", "case_id": cid, "blob": 0, "uploads": [upload_id]},
            {"type": "followup", "case_id": cid, "seq": 1, "blob": 1, "uploads": []},
            {"type": "attachment", "case_id": cid, "upload_id": upload_id, "chunks": params.chunks, "blob": 2},
        ],
    }
    outbound_header = {
        "v": 1, "bundle_id": BUNDLE_ID_OUT, "desk": "desk-1", "day": DAY,
        "acks": [{"type": "report", "case_id": cid}, {"type": "attachment", "upload_id": upload_id}],
        "replies": [{"case_id": cid, "seq": 1, "blob": 0}],
    }
    return World(
        root_pk, root_sk, desks, desk_keys("outsider"), manifest_bytes, manifest, case_key, case, cid,
        report, followup, reply_blob, params, data, tuple(chunks),
        write(INBOUND, inbound_header, [report, followup, b"".join(chunks)]),
        write(OUTBOUND, outbound_header, [reply_blob], desks[0].sign_secret),
    )


def write(direction: str, header: dict, blobs: list[bytes], sign_secret: bytes | None = None) -> bytes:
    """A bundle as crypto.bundle writes it."""
    out = io.BytesIO()
    write_bundle(out, direction, header, [(len(b), [b] if b else []) for b in blobs], sign_secret)
    return out.getvalue()


# -- crafters: any contents in an authentic frame -------------------------------------------------


def craft_bundle(direction: str, header_bytes: bytes, blobs: bytes = b"", sign_secret: bytes | None = None,
                 *, version: int = 1) -> bytes:
    """Prefix, any header bytes and blob bytes, then the right digest (and signature)."""
    body = struct.pack(">8sBBI", b"QLBUNDLE", version, ord(direction), len(header_bytes)) + header_bytes + blobs
    digest = hashlib.blake2b(body, digest_size=32, key=b"quietline/bundle/v1").digest()
    signature = signing.sign("bundle", digest, sign_secret) if sign_secret is not None else b""
    return body + digest + signature


def craft_envelope(padded: bytes, recipients: tuple[DeskKeys, ...], *, kind: int = 1, version: int = 1,
                   nonce: bytes = bytes(24), data_key: bytes = bytes(range(32))) -> bytes:
    """An envelope whose AEAD plaintext is `padded`, whatever it holds, sealed to `recipients`."""
    header = b"QLEN" + bytes([version, kind, len(recipients)])
    for desk in recipients:
        header += desk.public.key_id + crypto_box_seal(data_key, desk.box_public)
    header += nonce
    return header + crypto_aead_xchacha20poly1305_ietf_encrypt(padded, header, nonce, data_key)


def craft_reply(padded: bytes, desk: DeskKeys, reply_public: bytes, *, version: int = 1) -> bytes:
    """A reply frame naming `desk`, with `padded` sealed to the case's reply key."""
    return b"QLRP" + bytes([version]) + desk.public.key_id + crypto_box_seal(padded, reply_public)


def signed_inner(purpose: str, body_bytes: bytes, sign_secret: bytes) -> bytes:
    """signature || body, what envelopes and replies pad and encrypt."""
    return signing.sign(purpose, body_bytes, sign_secret) + body_bytes


def craft_manifest(body_bytes: bytes, root_sk: bytes, **outer) -> bytes:
    """A manifest file whose body (any bytes) carries a valid root signature."""
    fields = {"format": "quietline.manifest", "v": 1, "body": b64encode(body_bytes),
              "signature": b64encode(signing.sign("manifest", body_bytes, root_sk))}
    fields.update(outer)
    return json_bytes(fields)
