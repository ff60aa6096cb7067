"""Replies from a desk to a submitter: signed by the desk, padded, sealed to the case's
reply key (docs/PROTOCOL.md, "Reply")."""

from collections.abc import Iterable
from dataclasses import dataclass

from nacl.bindings import crypto_box_seal, crypto_box_seal_open
from nacl.exceptions import CryptoError

from . import signing
from .encoding import is_int, json_bytes, json_load
from .errors import ProtocolError
from .manifest import DAY, DeskPublic, Manifest
from .padding import MESSAGE_BUCKETS, pad_message, unpad_message

MAGIC = b"QLRP"
VERSION = 1
SEAL_OVERHEAD = 48
STATUSES = (
    "received",
    "assessing",
    "more_information_needed",
    "action_under_way",
    "awaiting_state_reply",
    "closed",
)
NOTICES = ("still_open",)
REPLAYED = "reply_replayed"  # served under another seq than the desk signed, or a seq twice


@dataclass(frozen=True)
class Reply:
    case_id: str
    seq: int
    status: str
    text: str
    day: str
    desk: str
    notice: str | None = None  # "still_open": nothing has changed, the case is not forgotten

    def body(self) -> dict:
        body = {"v": VERSION, "kind": "reply", "case_id": self.case_id, "seq": self.seq,
                "status": self.status, "text": self.text, "day": self.day, "desk": self.desk}
        if self.notice is not None:
            body["notice"] = self.notice
        return body


def seal_reply(reply: Reply, desk: DeskPublic, desk_sign_secret: bytes, reply_public: bytes) -> bytes:
    if reply.status not in STATUSES:
        raise ProtocolError("bad_status", f"unknown status {reply.status!r}")
    if not is_int(reply.seq) or reply.seq < 1:
        raise ProtocolError("bad_sequence", "reply sequence numbers start at 1")
    if reply.notice is not None and reply.notice not in NOTICES:
        raise ProtocolError("bad_reply", f"unknown notice {reply.notice!r}")
    body = json_bytes(reply.body())
    inner = signing.sign("reply", body, desk_sign_secret) + body
    return MAGIC + bytes([VERSION]) + desk.key_id + crypto_box_seal(pad_message(inner), reply_public)


def check_framing(blob: bytes) -> bytes:
    """Key-free check the server runs on a pushed reply; returns the desk key id."""
    if len(blob) < 13 or blob[:4] != MAGIC:
        raise ProtocolError("bad_reply", "not a Quietline reply")
    if blob[4] != VERSION:
        raise ProtocolError("unsupported_version", f"reply version {blob[4]} is not supported")
    if len(blob) - 13 - SEAL_OVERHEAD not in MESSAGE_BUCKETS:
        raise ProtocolError("bad_reply", "reply size is not a padding bucket")
    return blob[5:13]


def open_reply(blob: bytes, manifest: Manifest, reply_public: bytes, reply_secret: bytes, case_id: str) -> Reply:
    """Decrypt with the case's reply key and check the desk's signature against the manifest."""
    desk = manifest.desk_by_key_id(check_framing(blob))
    try:
        padded = crypto_box_seal_open(blob[13:], reply_public, reply_secret)
    except CryptoError as exc:
        raise ProtocolError("decryption_failed", "reply was tampered with or not for this case") from exc
    inner = unpad_message(padded)
    body_bytes = inner[signing.SIGNATURE_BYTES :]
    signing.verify("reply", body_bytes, inner[: signing.SIGNATURE_BYTES], desk.sign_public)
    body = json_load(body_bytes, what="reply")
    version = body.get("v")
    if not (is_int(version) and version == VERSION) or body.get("kind") != "reply":
        raise ProtocolError("bad_reply", "reply body has the wrong version or kind")
    if body.get("case_id") != case_id:
        raise ProtocolError("wrong_case", "reply belongs to another case")
    if body.get("desk") != desk.id:
        raise ProtocolError("bad_reply", "reply names another desk than the one that signed it")
    reply = Reply(case_id, body.get("seq"), body.get("status"), body.get("text"), body.get("day"), desk.id, body.get("notice"))
    if (
        not is_int(reply.seq)
        or reply.seq < 1
        or reply.status not in STATUSES
        or not isinstance(reply.text, str)
        or not isinstance(reply.day, str)
        or not DAY.fullmatch(reply.day)
        or not (reply.notice is None or reply.notice in NOTICES)
    ):
        raise ProtocolError("bad_reply", "reply body is malformed")
    return reply


def open_replies(
    served: Iterable[tuple[int, bytes]], manifest: Manifest, reply_public: bytes, reply_secret: bytes, case_id: str
) -> list[Reply | ProtocolError]:
    """Open the replies a lookup serves, each as (the seq it is served under, its blob), in the
    order served; one outcome per entry. Besides each reply's own checks, a reply whose signed
    `seq` is not the seq it is served under, or whose seq was already opened, is refused
    (`reply_replayed`): the server cannot show an old reply as a new one, or reorder them."""
    outcomes: list[Reply | ProtocolError] = []
    opened: set[int] = set()
    for served_seq, blob in served:
        try:
            reply = open_reply(blob, manifest, reply_public, reply_secret, case_id)
            if not (is_int(served_seq) and reply.seq == served_seq):
                raise ProtocolError(REPLAYED, "reply is served under another number than the desk signed")
            if reply.seq in opened:
                raise ProtocolError(REPLAYED, "a reply with this number was already served")
        except ProtocolError as exc:
            outcomes.append(exc)
            continue
        opened.add(reply.seq)
        outcomes.append(reply)
    return outcomes
