"""Build what the browser and the server produce, with crypto/ only, so the workstation is
tested against the real formats: submitters sealing reports, follow-ups and attachments,
and inbound bundles assembled the way the server assembles them (PROTOCOL.md)."""

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from crypto.attachment import seal_bytes
from crypto.bundle import INBOUND, write_bundle
from crypto.casekey import generate
from crypto.encoding import b64encode
from crypto.envelope import seal
from crypto.kdf import CaseKeys, case_id as derive_case_id, derive_case_keys
from crypto.manifest import DeskPublic

DAY = "2026-11-20"
PASSPHRASE = "correct horse battery staple"


@dataclass
class Upload:
    upload_id: str
    data: bytes
    chunks: list[bytes]
    descriptor: dict


@dataclass
class Message:
    envelope: bytes
    uploads: list[Upload]
    body: dict


@dataclass
class Submitter:
    """One case, as the browser holds it: the case key's derived keys."""

    keys: CaseKeys
    case_id: str

    @classmethod
    def new(cls) -> "Submitter":
        keys = derive_case_keys(generate())
        return cls(keys, derive_case_id(keys.lookup))

    def upload(self, name: str, data: bytes, type_: str = "application/octet-stream", upload_id: str | None = None) -> Upload:
        """An attachment sealed as the browser seals it; `upload_id` is the server's, when
        there is a server, else random."""
        params, chunks = seal_bytes(data)
        upload_id = upload_id or secrets.token_hex(16)
        descriptor = {
            "upload_id": upload_id,
            "name": name,
            "type": type_,
            "size": params.size,
            "key": b64encode(params.key),
            "header": b64encode(params.header),
            "chunks": params.chunks,
        }
        return Upload(upload_id, data, chunks, descriptor)

    def report(
        self,
        desks: tuple[DeskPublic, ...],
        *,
        text: str = "They came to my office after the session.",
        country: str = "SY",
        attachments: list[tuple[str, bytes]] = (),
        case_id: str | None = None,
        sign_secret: bytes | None = None,
        extra: dict | None = None,
        uploads: list[Upload] = (),
    ) -> Message:
        uploads = [*uploads, *(self.upload(name, data) for name, data in attachments)]
        body = {
            "v": 1,
            "kind": "report",
            "case_id": case_id or self.case_id,
            "day": DAY,
            "lang": "en",
            "reply_pk": b64encode(self.keys.reply_public),
            "sign_pk": b64encode(self.keys.sign_public),
            "report": {"schema": "quietline.report/2", "country": country, "text": text, **(extra or {})},
            "attachments": [u.descriptor for u in uploads],
        }
        envelope = seal("report", body, sign_secret or self.keys.sign_secret, desks)
        return Message(envelope, uploads, body)

    def followup(
        self,
        desks: tuple[DeskPublic, ...],
        *,
        text: str = "They came back today.",
        attachments: list[tuple[str, bytes]] = (),
        case_id: str | None = None,
        sign_secret: bytes | None = None,
        followup_id: str | None = None,
        uploads: list[Upload] = (),
        extra: dict | None = None,
    ) -> Message:
        uploads = [*uploads, *(self.upload(name, data) for name, data in attachments)]
        body = {
            "v": 1,
            "kind": "followup",
            "case_id": case_id or self.case_id,
            "id": followup_id or secrets.token_hex(16),
            "day": DAY,
            "text": text,
            "attachments": [u.descriptor for u in uploads],
            **(extra or {}),  # consent changes, withdraw
        }
        envelope = seal("followup", body, sign_secret or self.keys.sign_secret, desks)
        return Message(envelope, uploads, body)


@dataclass
class InboundBundle:
    """An inbound bundle as the server writes it: items, blobs, confirmed outbound ids."""

    items: list[dict] = field(default_factory=list)
    blobs: list[list[bytes]] = field(default_factory=list)
    confirmed_outbound: list[str] = field(default_factory=list)

    def _blob(self, chunks: list[bytes]) -> int:
        self.blobs.append(list(chunks))
        return len(self.blobs) - 1

    def add_report(self, case_id: str, message: Message, *, with_attachments: bool = True) -> "InboundBundle":
        uploads = [u.upload_id for u in message.uploads]
        self.items.append({"type": "report", "case_id": case_id, "blob": self._blob([message.envelope]), "uploads": uploads})
        if with_attachments:
            for upload in message.uploads:
                self.add_attachment(case_id, upload)
        return self

    def add_followup(self, case_id: str, seq: int, message: Message, *, with_attachments: bool = True) -> "InboundBundle":
        uploads = [u.upload_id for u in message.uploads]
        self.items.append(
            {"type": "followup", "case_id": case_id, "seq": seq, "blob": self._blob([message.envelope]), "uploads": uploads}
        )
        if with_attachments:
            for upload in message.uploads:
                self.add_attachment(case_id, upload)
        return self

    def add_attachment(self, case_id: str, upload: Upload, *, chunks: list[bytes] | None = None) -> "InboundBundle":
        chunks = upload.chunks if chunks is None else chunks
        self.items.append(
            {
                "type": "attachment",
                "case_id": case_id,
                "upload_id": upload.upload_id,
                "chunks": len(upload.chunks),
                "blob": self._blob(chunks),
            }
        )
        return self

    def add_withdrawal(self, message: Message, withdrawal_id: str | None = None) -> str:
        """A withdrawal as the server lists it: a random id and the envelope, no case id."""
        withdrawal_id = withdrawal_id or secrets.token_hex(16)
        self.items.append({"type": "withdrawal", "withdrawal_id": withdrawal_id, "blob": self._blob([message.envelope])})
        return withdrawal_id

    def write(self, path: Path, *, bundle_id: str | None = None) -> Path:
        header = {
            "v": 1,
            "bundle_id": bundle_id or secrets.token_hex(16),
            "day": DAY,
            "items": self.items,
            "confirmed_outbound": self.confirmed_outbound,
        }
        blobs = [(sum(len(c) for c in chunks), chunks) for chunks in self.blobs]
        with open(path, "wb") as out:
            write_bundle(out, INBOUND, header, blobs)
        return Path(path)


def assert_one_line_error(result, *fragments: str, exit_code: int = 1) -> str:
    """The contract for every failure: non-zero exit, exactly one line, no traceback."""
    assert result.exit_code == exit_code, (result.exit_code, result.output)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    line = lines[0]
    for fragment in fragments:
        assert fragment in line, line
    return line
