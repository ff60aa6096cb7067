"""The one organisation, two cases and valid artifacts every tamper case starts from.

Built once per test session with crypto/ only, as the browser, the server and the desk
build them, so every layer is handed exactly the same bytes: the server is configured with
this manifest (the `org` fixture), the workstation's vault holds desk-1's keys, and the
browser derives the cases' keys from their case key texts.
"""

import hashlib
import io
import secrets
from dataclasses import dataclass

from nacl.bindings import crypto_box_seal, crypto_sign_keypair

from crypto import casekey, signing
from crypto.attachment import StreamParams, seal_bytes
from crypto.bundle import INBOUND, OUTBOUND, write_bundle
from crypto.desk import DeskKeys
from crypto.encoding import b64encode, json_bytes
from crypto.envelope import seal
from crypto.kdf import CaseKeys, case_id as case_id_of, derive_case_keys
from crypto.manifest import Manifest, sign_manifest
from crypto.padding import pad_message
from crypto.reply import MAGIC as REPLY_MAGIC, Reply, seal_reply

DAY = "2026-11-23"
ATTACHMENT_SIZE = 600_000  # three chunks: a first, a middle and a final one


@dataclass(frozen=True)
class Case:
    name: str  # "a" or "b", as the table names them
    key: bytes
    keys: CaseKeys
    case_id: str

    @property
    def key_text(self) -> str:
        return casekey.encode(self.key)

    @property
    def lookup(self) -> str:
        return b64encode(self.keys.lookup)


def new_case(name: str) -> Case:
    key = casekey.generate()
    keys = derive_case_keys(key)
    return Case(name, key, keys, case_id_of(keys.lookup))


def report_body(case: Case, attachments=()) -> dict:
    return {
        "v": 1,
        "kind": "report",
        "case_id": case.case_id,
        "day": DAY,
        "lang": "en",
        "reply_pk": b64encode(case.keys.reply_public),
        "sign_pk": b64encode(case.keys.sign_public),
        "report": {"schema": "quietline.report/2", "country": "SY", "text": "They came to my office after the session."},
        "attachments": list(attachments),
    }


def followup_body(case: Case, followup_id: str) -> dict:
    return {"v": 1, "kind": "followup", "case_id": case.case_id, "id": followup_id, "day": DAY,
            "text": "They came back today.", "attachments": []}


def withdrawal_body(case: Case, followup_id: str) -> dict:
    """The follow-up the page sends to withdraw the report (POST /api/v1/cases/withdraw)."""
    return {**followup_body(case, followup_id), "text": "", "withdraw": True}


def descriptor(upload_id: str, params: StreamParams) -> dict:
    return {"upload_id": upload_id, "name": "evidence.bin", "type": "application/octet-stream", "size": params.size,
            "key": b64encode(params.key), "header": b64encode(params.header), "chunks": params.chunks}


def raw_reply(key_id: bytes, body: dict, sign_secret: bytes, reply_public: bytes) -> bytes:
    """A reply framed by hand: any key id, signed by any key, sealed to any reply key."""
    body_bytes = json_bytes(body)
    inner = signing.sign("reply", body_bytes, sign_secret) + body_bytes
    return REPLY_MAGIC + bytes([1]) + key_id + crypto_box_seal(pad_message(inner), reply_public)


def bundle_bytes(direction: str, header: dict, blobs: list[bytes], sign_secret: bytes | None = None) -> bytes:
    out = io.BytesIO()
    write_bundle(out, direction, header, [(len(b), [b]) for b in blobs], sign_secret=sign_secret)
    return out.getvalue()


@dataclass(frozen=True)
class World:
    root_pk: bytes
    root_sk: bytes
    other_root_pk: bytes
    other_root_sk: bytes
    desk1: DeskKeys  # in the manifest; the workstation's desk
    desk2: DeskKeys  # in the manifest
    desk3: DeskKeys  # not in the manifest: the desk a forger adds
    outsider: DeskKeys  # not in the manifest, calling itself desk-1
    manifest: Manifest
    manifest_bytes: bytes
    a: Case
    b: Case
    report_a: bytes
    report_b: bytes
    followup_a: bytes
    followup_b: bytes
    withdrawal_a: bytes  # case a's withdrawal
    withdrawal_a_signed_by_b: bytes  # a withdrawal naming case a, signed with case b's key
    # One attachment of case a: its stream, and streams a server could swap in for it.
    upload_id: str
    att: StreamParams
    att_chunks: tuple[bytes, ...]
    other_att_chunks: tuple[bytes, ...]  # another attachment (another key)
    rekeyed_att_chunks: tuple[bytes, ...]  # the same file and key, another stream header
    report_a_att: bytes  # case a's report naming the attachment (upload_id)
    # Replies to case a, and forgeries of them.
    r1: bytes
    r2: bytes
    r1_key_id_of_desk2: bytes
    r1_by_outsider: bytes
    r1_signed_by_outsider: bytes
    r1_sealed_to_b: bytes
    r1_naming_b: bytes

    def case(self, name: str) -> Case:
        return {"a": self.a, "b": self.b}[name]

    @property
    def desks(self) -> tuple:
        return (self.desk1.public, self.desk2.public)

    def report_of(self, name: str) -> bytes:
        return {"a": self.report_a, "b": self.report_b}[name]

    # -- bundles ----------------------------------------------------------------------------

    def inbound(self, items_blobs=None, *, bundle_id: str = "1b" * 16, header_extra: dict | None = None) -> bytes:
        """An inbound bundle as the server writes it (default: case a's report)."""
        if items_blobs is None:
            items_blobs = [({"type": "report", "case_id": self.a.case_id, "uploads": []}, self.report_a)]
        items = [dict(item, blob=i) for i, (item, _) in enumerate(items_blobs)]
        header = {"v": 1, "bundle_id": bundle_id, "day": DAY, "items": items, "confirmed_outbound": [],
                  **(header_extra or {})}
        return bundle_bytes(INBOUND, header, [blob for _, blob in items_blobs])

    def outbound(self, *, signer: bytes | None = None, desk: str = "desk-1", bundle_id: str = "0b" * 16,
                 replies=None, header_extra: dict | None = None) -> bytes:
        """An outbound bundle as desk-1 writes it (default: reply 1 to case a), signed by
        `signer` (a 64-byte Ed25519 secret; desk-1's unless given), naming `desk`."""
        replies = [(self.a.case_id, 1, self.r1)] if replies is None else replies
        header = {"v": 1, "bundle_id": bundle_id, "desk": desk, "day": DAY, "acks": [],
                  "replies": [{"case_id": c, "seq": s, "blob": i} for i, (c, s, _) in enumerate(replies)],
                  **(header_extra or {})}
        return bundle_bytes(OUTBOUND, header, [blob for _, _, blob in replies], signer or self.desk1.sign_secret)


def build_world() -> World:
    root_pk, root_sk = crypto_sign_keypair()
    other_root_pk, other_root_sk = crypto_sign_keypair()
    desk1, desk2 = DeskKeys.generate("desk-1", "Desk one"), DeskKeys.generate("desk-2", "Desk two")
    desk3 = DeskKeys.generate("desk-3", "Desk three")
    outsider = DeskKeys.generate("desk-1", "Impostor")
    manifest = Manifest(org="Test Organisation", issued="2026-11-01", desks=(desk1.public, desk2.public))
    a, b = new_case("a"), new_case("b")
    desks = (desk1.public, desk2.public)

    data = hashlib.shake_256(b"evidence").digest(ATTACHMENT_SIZE)
    att, att_chunks = seal_bytes(data)
    _, other_chunks = seal_bytes(hashlib.shake_256(b"other evidence").digest(ATTACHMENT_SIZE))
    rekeyed, rekeyed_chunks = seal_bytes(data, key=att.key)
    assert rekeyed.header != att.header and len(att_chunks) == 3
    upload_id = secrets.token_hex(16)

    def reply(seq: int, status: str, text: str) -> bytes:
        return seal_reply(Reply(a.case_id, seq, status, text, DAY, "desk-1"), desk1.public, desk1.sign_secret,
                          a.keys.reply_public)

    body1 = Reply(a.case_id, 1, "received", "We received your report.", DAY, "desk-1").body()
    return World(
        root_pk=root_pk, root_sk=root_sk, other_root_pk=other_root_pk, other_root_sk=other_root_sk,
        desk1=desk1, desk2=desk2, desk3=desk3, outsider=outsider,
        manifest=manifest, manifest_bytes=sign_manifest(manifest, root_sk),
        a=a, b=b,
        report_a=seal("report", report_body(a), a.keys.sign_secret, desks),
        report_b=seal("report", report_body(b), b.keys.sign_secret, desks),
        followup_a=seal("followup", followup_body(a, "a1" * 16), a.keys.sign_secret, desks),
        followup_b=seal("followup", followup_body(b, "b1" * 16), b.keys.sign_secret, desks),
        withdrawal_a=seal("followup", withdrawal_body(a, "a9" * 16), a.keys.sign_secret, desks),
        withdrawal_a_signed_by_b=seal("followup", withdrawal_body(a, "b9" * 16), b.keys.sign_secret, desks),
        upload_id=upload_id, att=att, att_chunks=tuple(att_chunks), other_att_chunks=tuple(other_chunks),
        rekeyed_att_chunks=tuple(rekeyed_chunks),
        report_a_att=seal("report", report_body(a, [descriptor(upload_id, att)]), a.keys.sign_secret, desks),
        r1=reply(1, "received", "We received your report."),
        r2=reply(2, "assessing", "We are looking at it."),
        r1_key_id_of_desk2=raw_reply(desk2.public.key_id, body1, desk1.sign_secret, a.keys.reply_public),
        r1_by_outsider=raw_reply(outsider.public.key_id, body1, outsider.sign_secret, a.keys.reply_public),
        r1_signed_by_outsider=raw_reply(desk1.public.key_id, body1, outsider.sign_secret, a.keys.reply_public),
        r1_sealed_to_b=raw_reply(desk1.public.key_id, body1, desk1.sign_secret, b.keys.reply_public),
        r1_naming_b=raw_reply(desk1.public.key_id, {**body1, "case_id": b.case_id}, desk1.sign_secret,
                              a.keys.reply_public),
    )
