"""Import an inbound bundle into the vault.

The bundle's digest is checked over the whole file before anything in it is trusted. Then,
for each item, everything the server could have changed is checked against what the case
key signed:

- a report opens with the desk's keys, its signature verifies with the `sign_pk` inside it,
  and the `case_id` it signed is the one the server filed it under;
- a follow-up verifies with the case's stored `sign_pk` and names the same case;
- an attachment is known from a descriptor inside a verified report or follow-up of the
  same case, and decrypts with that descriptor's key, chunk by chunk, to the end;
- a withdrawal (the server deleted the case when the person withdrew, and names no case)
  opens with the desk's keys and names its case inside. If that case is in the vault, it
  must verify with the case's `sign_pk` and withdraw; it is then kept as the case's next
  follow-up, exactly as a withdrawing follow-up (every consent no), noting that the server
  deleted the case. If the case was never imported (withdrawn before the desk pulled its
  report), only the fact is recorded, with the sealed envelope, in case the report still
  arrives in an older bundle: it is verified and applied then.

An item that fails is refused with its code, never stored and never acknowledged (so the
server keeps it for a later look). The whole import is one transaction: it commits fully
or not at all, and importing the same bundle again changes nothing.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

from nacl.bindings import crypto_generichash_blake2b_salt_personal as _blake2b

from crypto.attachment import CHUNK_CIPHERTEXT, AttachmentOpener, StreamParams, chunks_for_size
from crypto.bundle import INBOUND, Bundle, read_bundle
from crypto.encoding import b64decode, b64encode, is_int
from crypto.envelope import open_envelope
from crypto.errors import ProtocolError
from crypto.manifest import DAY
from crypto.padding import MAX_MESSAGE
from crypto.report import parse_followup_update, parse_report

from .cases import ATTACHMENT, CASE, EXPECTED, FOLLOWUP, STORED, WITHDRAWAL, get_case
from .exporter import confirm_outbound, queue_ack
from .files import today
from .integrity import unrecorded_attachment_files
from .vault import Vault

IMPORT = "import"
HEX32 = re.compile(r"[0-9a-f]{32}")  # always fullmatch
# An envelope is a padding bucket plus its header (at most 16 recipients) and tag.
MAX_ENVELOPE = MAX_MESSAGE + 7 + 16 * 88 + 24 + 16


@dataclass(frozen=True)
class Refusal:
    item: str  # e.g. "report for case 1a2b3c4d"
    code: str
    message: str


APPLIED, NEVER_SEEN, ALREADY = "applied", "case_never_seen", "already"


@dataclass(frozen=True)
class WithdrawalSeen:
    withdrawal_id: str
    outcome: str  # APPLIED (to case_id), NEVER_SEEN (no case data exists) or ALREADY
    case_id: str | None = None  # only once verified against a case in the vault


@dataclass
class ImportResult:
    bundle_id: str
    day: str
    seen_before: bool
    new: dict = field(default_factory=lambda: {"report": 0, "followup": 0, "attachment": 0})
    already: dict = field(default_factory=lambda: {"report": 0, "followup": 0, "attachment": 0})
    refused: list[Refusal] = field(default_factory=list)
    confirmed_bundles: int = 0
    withdrawals: list[WithdrawalSeen] = field(default_factory=list)


def _digest(data: bytes) -> str:
    return _blake2b(data, digest_size=32).hex()


def _hex32(value: object, what: str) -> str:
    if not isinstance(value, str) or not HEX32.fullmatch(value):
        raise ProtocolError("bad_item", f"{what} is not 32 lowercase hex characters")
    return value


def _int(value: object, what: str, minimum: int) -> int:
    if not is_int(value) or value < minimum:
        raise ProtocolError("bad_item", f"{what} must be an integer of at least {minimum}")
    return value


def _followup_fields(body: dict, case_id: str):
    """A verified follow-up body's fields, checked: its id and its consent update."""
    if body.get("case_id") != case_id:
        raise ProtocolError("wrong_case", "the follow-up was signed for another case than the one it was filed under")
    if not (is_int(body.get("v")) and body["v"] == 1):  # `true` is not 1
        raise ProtocolError("unsupported_version", "follow-up body version is not supported")
    followup_id = _hex32(body.get("id"), "follow-up id")
    if not isinstance(body.get("text"), str) or not DAY.fullmatch(str(body.get("day"))):
        raise ProtocolError("bad_followup", "follow-up body lacks its text or day")
    return followup_id, parse_followup_update(body)


def _followup_record(body: dict, followup_id: str, update, digest: str, attachments: list[str]) -> dict:
    return {
        "id": followup_id,
        "day": body["day"],
        "text": body["text"],
        "attachments": attachments,
        "envelope": digest,
        "consent": update.consent.to_json() if update.consent else None,
        "victim_consent": update.victim_consent.to_json() if update.victim_consent else None,
        "withdraw": update.withdraw,
    }


def _descriptors(body: dict, case_id: str, parent) -> list[dict]:
    """The attachment descriptors of a verified body, checked, as `attachment` records."""
    items = body.get("attachments", [])
    if not isinstance(items, list):
        raise ProtocolError("bad_descriptor", "attachments must be a list")
    records, seen = [], set()
    for d in items:
        if not isinstance(d, dict):
            raise ProtocolError("bad_descriptor", "an attachment descriptor must be an object")
        try:
            upload_id = _hex32(d.get("upload_id"), "upload_id")
            size = _int(d.get("size"), "size", 0)
            chunks = _int(d.get("chunks"), "chunks", 1)
            key = b64decode(d.get("key"), field="attachment key", length=32)
            header = b64decode(d.get("header"), field="attachment header", length=24)
        except ProtocolError as exc:
            raise ProtocolError("bad_descriptor", exc.message) from exc
        if chunks != chunks_for_size(size):
            raise ProtocolError("bad_descriptor", "attachment size and chunk count disagree")
        if upload_id in seen:
            raise ProtocolError("bad_descriptor", "an attachment is listed twice")
        seen.add(upload_id)
        records.append(
            {
                "upload_id": upload_id,
                "case_id": case_id,
                "parent": parent,
                "name": str(d.get("name", "")),
                "type": str(d.get("type", "")),
                "size": size,
                "chunks": chunks,
                "key": b64encode(key),
                "header": b64encode(header),
                "state": EXPECTED,
            }
        )
    return records


class _Importer:
    def __init__(self, vault: Vault, bundle: Bundle, source: BinaryIO, result: ImportResult):
        self.vault = vault
        self.bundle = bundle
        self.source = source
        self.result = result
        self.desk = vault.desk
        self.stored_files: list[bytes] = []  # attachment files written by this import

    # -- blobs ------------------------------------------------------------------------------

    def _blob_index(self, item: dict) -> int:
        index = _int(item.get("blob"), "blob", 0)
        if index >= len(self.bundle.blob_sizes):
            raise ProtocolError("bad_item", f"the bundle has no blob {index}")
        return index

    def _envelope(self, item: dict) -> bytes:
        index = self._blob_index(item)
        if self.bundle.blob_sizes[index] > MAX_ENVELOPE:
            raise ProtocolError("too_large", "envelope is larger than any envelope can be")
        return self.bundle.read_blob(self.source, index)

    def _chunks(self, index: int) -> Iterator[bytes]:
        """A blob as exact attachment chunks, read one at a time."""
        buffer = bytearray()
        for piece in self.bundle.iter_blob(self.source, index, chunk=CHUNK_CIPHERTEXT):
            buffer += piece
            while len(buffer) >= CHUNK_CIPHERTEXT:
                yield bytes(buffer[:CHUNK_CIPHERTEXT])
                del buffer[:CHUNK_CIPHERTEXT]
        if buffer:
            yield bytes(buffer)

    # -- items ------------------------------------------------------------------------------

    def report(self, item: dict) -> str:
        case_id = _hex32(item.get("case_id"), "case_id")
        envelope = self._envelope(item)
        opened = open_envelope(envelope, self.desk.public, self.desk.box_secret)
        if opened.kind != "report":
            raise ProtocolError("wrong_kind", f"expected a report envelope, got a {opened.kind}")
        body = opened.body
        opened.verify(b64decode(body.get("sign_pk"), field="sign_pk", length=32))
        if body.get("case_id") != case_id:
            raise ProtocolError("wrong_case", "the report was signed for another case than the one it was filed under")
        if not (is_int(body.get("v")) and body["v"] == 1):  # `true` is not 1
            raise ProtocolError("unsupported_version", "report body version is not supported")
        b64decode(body.get("reply_pk"), field="reply_pk", length=32)
        if not isinstance(body.get("report"), dict) or not DAY.fullmatch(str(body.get("day"))):
            raise ProtocolError("bad_report", "report body lacks its report fields or day")
        parse_report(body["report"])  # the schema, field by field (SchemaError names the field)
        digest = _digest(envelope)
        existing = get_case(self.vault, case_id)
        if existing is not None:
            if existing["envelope"] != digest:
                raise ProtocolError("case_conflict", "a different report for this case is already in the vault")
            return "already"
        attachments = _descriptors(body, case_id, "report")
        self._expect(attachments)
        self.vault.put(
            CASE,
            self.vault.case_group(case_id),
            {
                "case_id": case_id,
                "day": body["day"],
                "lang": str(body.get("lang", "")),
                "reply_pk": body["reply_pk"],
                "sign_pk": body["sign_pk"],
                "report": body["report"],
                "attachments": [a["upload_id"] for a in attachments],
                "envelope": digest,
                "bundle_id": self.result.bundle_id,
                "imported": today(),
            },
            group=self.vault.case_group(case_id),
        )
        queue_ack(self.vault, {"type": "report", "case_id": case_id})
        self._pending_withdrawals(get_case(self.vault, case_id))
        return "new"

    def followup(self, item: dict) -> str:
        case_id = _hex32(item.get("case_id"), "case_id")
        seq = _int(item.get("seq"), "seq", 1)
        case = get_case(self.vault, case_id)
        if case is None:
            raise ProtocolError("unknown_case", "a follow-up for a case whose report is not in the vault")
        envelope = self._envelope(item)
        opened = open_envelope(envelope, self.desk.public, self.desk.box_secret)
        if opened.kind != "followup":
            raise ProtocolError("wrong_kind", f"expected a follow-up envelope, got a {opened.kind}")
        opened.verify(b64decode(case["sign_pk"], length=32))
        body = opened.body
        followup_id, update = _followup_fields(body, case_id)
        digest = _digest(envelope)
        group = self.vault.case_group(case_id)
        rid = self.vault.rid(FOLLOWUP, case_id, seq)
        existing = self.vault.get(FOLLOWUP, rid)
        if existing is not None and existing.get("withdrawal_id") and existing["envelope"] != digest:
            # A withdrawal took this number before this older follow-up arrived: it moves on.
            self._put_followup(case_id, self._next_seq(case_id), existing)
            existing = None
        if existing is not None:
            if existing["envelope"] != digest:
                raise ProtocolError("followup_conflict", f"a different follow-up {seq} of this case is already in the vault")
            return "already"
        if any(f["id"] == followup_id for _, f in self.vault.records(FOLLOWUP, group=group)):
            raise ProtocolError("followup_replayed", "this follow-up is already in the vault under another number")
        attachments = _descriptors(body, case_id, seq)
        self._expect(attachments)
        self._put_followup(case_id, seq, _followup_record(body, followup_id, update, digest, [a["upload_id"] for a in attachments]))
        queue_ack(self.vault, {"type": "followup", "case_id": case_id, "seq": seq})
        return "new"

    def _put_followup(self, case_id: str, seq: int, record: dict) -> None:
        record = {**record, "case_id": case_id, "seq": seq}
        self.vault.put(FOLLOWUP, self.vault.rid(FOLLOWUP, case_id, seq), record, group=self.vault.case_group(case_id))

    def _next_seq(self, case_id: str) -> int:
        return 1 + max((f["seq"] for _, f in self.vault.records(FOLLOWUP, group=self.vault.case_group(case_id))), default=0)

    # -- withdrawals ------------------------------------------------------------------------

    def withdrawal(self, item: dict) -> str:
        withdrawal_id = _hex32(item.get("withdrawal_id"), "withdrawal_id")
        rid = self.vault.rid(WITHDRAWAL, withdrawal_id)
        if self.vault.get(WITHDRAWAL, rid) is not None:
            self.result.withdrawals.append(WithdrawalSeen(withdrawal_id, ALREADY))
            return "already"
        envelope = self._envelope(item)
        opened = open_envelope(envelope, self.desk.public, self.desk.box_secret)
        if opened.kind != "followup":
            raise ProtocolError("wrong_kind", f"expected a follow-up envelope, got a {opened.kind}")
        case_id = _hex32(opened.body.get("case_id"), "the withdrawn case's id")
        case = get_case(self.vault, case_id)
        if case is None:
            # The person withdrew before the desk pulled the report: the server deleted it,
            # so no case data exists. Nothing can be verified yet (the signing key is in
            # the report), but the body must at least claim to withdraw.
            if opened.body.get("withdraw") is not True:
                raise ProtocolError("not_a_withdrawal", "the envelope's follow-up does not withdraw the report")
            self.vault.put(WITHDRAWAL, rid, {"withdrawal_id": withdrawal_id, "state": NEVER_SEEN, "imported": today(),
                                             "claimed_case_id": case_id, "envelope": b64encode(envelope)})
            seen = WithdrawalSeen(withdrawal_id, NEVER_SEEN)
        else:
            self._apply_withdrawal(case, withdrawal_id, envelope, opened)
            seen = WithdrawalSeen(withdrawal_id, APPLIED, case_id)
        queue_ack(self.vault, {"type": "withdrawal", "withdrawal_id": withdrawal_id})
        self.result.withdrawals.append(seen)
        return "new"

    def _apply_withdrawal(self, case: dict, withdrawal_id: str, envelope: bytes, opened) -> None:
        """Verified with the case's key and withdrawing: kept as the case's next follow-up,
        exactly what a withdrawing follow-up does (every consent no from now on)."""
        case_id = case["case_id"]
        opened.verify(b64decode(case["sign_pk"], length=32))  # bad_signature
        followup_id, update = _followup_fields(opened.body, case_id)
        if not update.withdraw:
            raise ProtocolError("not_a_withdrawal", "the withdrawal's follow-up does not withdraw the report")
        group = self.vault.case_group(case_id)
        already = [f for _, f in self.vault.records(FOLLOWUP, group=group) if f["id"] == followup_id]
        if already and not already[0].get("withdraw"):
            raise ProtocolError("followup_replayed", "this follow-up is already in the vault under another number")
        seq = already[0]["seq"] if already else self._next_seq(case_id)
        # Its attachments, if any, were deleted with the case: none is expected.
        record = _followup_record(opened.body, followup_id, update, _digest(envelope), [])
        self._put_followup(case_id, seq, {**(already[0] if already else record), "withdrawal_id": withdrawal_id, "server_deleted": True})
        self.vault.put(WITHDRAWAL, self.vault.rid(WITHDRAWAL, withdrawal_id),
                       {"withdrawal_id": withdrawal_id, "state": APPLIED, "imported": today(), "case_id": case_id, "seq": seq},
                       group=group)

    def _pending_withdrawals(self, case: dict) -> None:
        """A report imported after its withdrawal (from an older bundle): apply the
        withdrawal now if it verifies with this report's key; a forgery stays unapplied."""
        for _, record in self.vault.records(WITHDRAWAL):
            if record["state"] != NEVER_SEEN or record["claimed_case_id"] != case["case_id"]:
                continue
            envelope = b64decode(record["envelope"])
            try:
                with self.vault.transaction():
                    self._apply_withdrawal(case, record["withdrawal_id"], envelope,
                                           open_envelope(envelope, self.desk.public, self.desk.box_secret))
            except ProtocolError:
                continue
            self.result.withdrawals.append(WithdrawalSeen(record["withdrawal_id"], APPLIED, case["case_id"]))

    def _expect(self, attachments: list[dict]) -> None:
        for record in attachments:
            rid = self.vault.rid(ATTACHMENT, record["upload_id"])
            if self.vault.get(ATTACHMENT, rid) is not None:
                raise ProtocolError("upload_conflict", "an attachment it names already belongs to another message")
            self.vault.put(ATTACHMENT, rid, record, group=self.vault.case_group(record["case_id"]))

    def attachment(self, item: dict) -> str:
        case_id = _hex32(item.get("case_id"), "case_id")
        upload_id = _hex32(item.get("upload_id"), "upload_id")
        rid = self.vault.rid(ATTACHMENT, upload_id)
        record = self.vault.get(ATTACHMENT, rid)
        if record is None:
            raise ProtocolError("unknown_upload", "no verified report or follow-up names this attachment")
        if record["case_id"] != case_id:
            raise ProtocolError("wrong_case", "the attachment belongs to another case than the one it was filed under")
        if record["state"] == STORED:
            return "already"
        if _int(item.get("chunks"), "chunks", 1) != record["chunks"]:
            raise ProtocolError("bad_attachment", "chunk count differs from the signed descriptor")
        index = self._blob_index(item)
        if self.bundle.blob_sizes[index] != record["chunks"] * CHUNK_CIPHERTEXT:
            raise ProtocolError("truncated", "attachment blob has the wrong size")
        opener = AttachmentOpener(
            StreamParams(b64decode(record["key"]), b64decode(record["header"]), record["size"], record["chunks"])
        )

        def plaintext() -> Iterator[bytes]:
            for chunk in self._chunks(index):
                yield opener.open_chunk(chunk)
            opener.finish()

        self.vault.store_attachment(rid, plaintext())
        self.stored_files.append(rid)
        record = {k: v for k, v in record.items() if k not in ("key", "header")}  # no longer needed
        record.update(state=STORED, file=rid.hex())
        self.vault.put(ATTACHMENT, rid, record, group=self.vault.case_group(case_id))
        queue_ack(self.vault, {"type": "attachment", "upload_id": upload_id})
        return "new"

    # -- the whole bundle -------------------------------------------------------------------

    def run(self, items: list) -> None:
        handlers = {"report": self.report, "followup": self.followup, "attachment": self.attachment,
                    "withdrawal": self.withdrawal}
        # Reports before the follow-ups that need their keys, follow-ups in order, then the
        # attachments their descriptors announce, then withdrawals (after what they end).
        rank = {"report": 0, "followup": 1, "attachment": 2, "withdrawal": 3}
        ordered = sorted(
            (item for item in items if isinstance(item, dict)),
            key=lambda i: (rank.get(i.get("type"), 3), str(i.get("case_id")), i.get("seq") if isinstance(i.get("seq"), int) else 0),
        )
        for item in items:
            if not isinstance(item, dict):
                self.result.refused.append(Refusal("item", "bad_item", "a bundle item must be an object"))
        for item in ordered:
            kind = item.get("type")
            handler = handlers.get(kind)
            if handler is None:
                self.result.refused.append(Refusal(f"item of type {str(kind)[:20]!r}", "bad_item", "unknown item type"))
                continue
            try:
                with self.vault.transaction():  # a savepoint: a refused item leaves no trace
                    outcome = handler(item)
            except ProtocolError as exc:
                self.result.refused.append(Refusal(_describe(item), exc.code, exc.message))
                continue
            if kind in self.result.new:  # withdrawals are listed in result.withdrawals
                (self.result.new if outcome == "new" else self.result.already)[kind] += 1
        confirmed = self.bundle.header.get("confirmed_outbound", [])
        if isinstance(confirmed, list):
            self.result.confirmed_bundles = confirm_outbound(self.vault, confirmed)


def _describe(item: dict) -> str:
    case = item.get("case_id")
    case = case[:8] if isinstance(case, str) and HEX32.fullmatch(case) else "?"
    kind = item.get("type")
    if kind == "followup":
        return f"follow-up {item.get('seq')!s:.10} of case {case}"
    if kind == "withdrawal":
        withdrawal = item.get("withdrawal_id")
        return f"withdrawal {withdrawal[:8] if isinstance(withdrawal, str) and HEX32.fullmatch(withdrawal) else '?'}"
    if kind == "attachment":
        upload = item.get("upload_id")
        upload = upload[:8] if isinstance(upload, str) and HEX32.fullmatch(upload) else "?"
        return f"attachment {upload} of case {case}"
    return f"report for case {case}"


def _added_counts(before: dict, now: dict) -> dict:
    return {kind: before.get(kind, 0) + now.get(kind, 0) for kind in {*before, *now}}


def import_bundle(vault: Vault, path: Path) -> ImportResult:
    """Verify and import the inbound bundle at `path`. Raises ProtocolError (nothing
    imported) if the bundle itself is damaged; refuses bad items one by one."""
    with open(path, "rb") as source:
        bundle = read_bundle(source, INBOUND)
        header = bundle.header
        items = header.get("items")
        if not isinstance(items, list):
            raise ProtocolError("bad_bundle", "inbound bundle header lacks its items")
        bundle_id = header["bundle_id"]
        log_rid = vault.rid(IMPORT, bundle_id)
        previous = vault.get(IMPORT, log_rid)
        result = ImportResult(bundle_id, str(header.get("day", "")), seen_before=previous is not None)
        importer = _Importer(vault, bundle, source, result)
        try:
            with vault.transaction():
                # Under the write lock, so no other import is writing the files it removes:
                # what an interrupted import left (temporary files, and attachment files whose
                # records never committed; this import stores them again if it carries them).
                vault.remove_stale_temp_files()
                for file_id in unrecorded_attachment_files(vault):
                    vault.discard_attachment(file_id)
                importer.run(items)
                vault.put(
                    IMPORT,
                    log_rid,
                    {
                        "bundle_id": bundle_id,
                        "day": result.day,
                        "imported": (previous or {}).get("imported", today()),
                        # What the bundle brought over every import of it: a re-run (say
                        # after the first was killed just after it committed) adds nothing.
                        "new": _added_counts((previous or {}).get("new", {}), result.new),
                        "refused": [r.__dict__ for r in result.refused],
                    },
                )
        except BaseException:
            # The records are rolled back; the files this run stored belong to nothing now.
            for rid in importer.stored_files:
                vault.discard_attachment(rid)
            raise
    return result
