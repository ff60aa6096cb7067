"""Helpers for the API tests: real submitters, envelopes, attachments, replies and
bundles built with crypto/, and snapshots of everything the server stores."""

import hashlib
import io
import json as json_module
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from crypto import casekey, envelope
from crypto import pow as pw
from crypto.attachment import CHUNK_CIPHERTEXT, StreamParams, seal_bytes
from crypto.bundle import INBOUND, OUTBOUND, Bundle, read_bundle, write_bundle
from crypto.desk import DeskKeys
from crypto.encoding import b64decode, b64encode
from crypto.errors import ProtocolError
from crypto.kdf import case_id as case_id_of
from crypto.kdf import derive_case_keys
from crypto.reply import Reply, seal_reply

DAY = "2026-11-23"
TABLES = ("cases", "followups", "uploads", "upload_chunks", "replies", "outbound_bundles", "withdrawals")


# -- proof of work: what the browser does before each of these requests --------------------

POW_PATHS = {"/api/v1/cases": "report", "/api/v1/cases/followups": "followup", "/api/v1/uploads": "upload"}


def pow_binding(purpose: str, body: dict) -> bytes:
    """The bytes a proof for this body is bound to (docs/PROTOCOL.md, "Proof of work"). For a
    body the server cannot read, zeros: it refuses that body for its own reason first."""
    try:
        if purpose == "upload":
            resume = body.get("resume")
            return pw.NO_RESUME if resume is None else pw.upload_binding(b64decode(resume, length=32))
        case_id = case_id_of(b64decode(body["lookup"], length=32))
        if purpose == "report":
            return pw.report_binding(case_id)
        return pw.followup_binding(case_id, b64decode(body["envelope"]))
    except (ProtocolError, KeyError, TypeError, AttributeError):
        return bytes(pw.BINDING_BYTES[pw.PURPOSES[purpose]])


def prove(client, purpose: str, binding: bytes) -> dict:
    """Fetch a challenge and solve it, as the browser does: {"challenge", "nonce"}."""
    response = client.get("/api/v1/pow", params={"purpose": purpose})
    assert response.status_code == 200, response.text
    challenge = response.json()["challenge"]
    return {"challenge": challenge, "nonce": pw.solve(b64decode(challenge), binding)}


class Proving:
    """A JSON object posted to one of the three endpoints that need a proof of work, without
    a "proof", gets a valid one (at the test settings' low difficulty). Tests of the proof
    itself use a plain client."""

    def post(self, url, *args, json=None, content=None, **kwargs):
        purpose = POW_PATHS.get(str(url))
        if purpose and isinstance(json, dict) and "proof" not in json:
            json = {**json, "proof": prove(self, purpose, pow_binding(purpose, json))}
        elif purpose and json is None and isinstance(content, (bytes, str)):
            # A JSON object sent as raw bytes (content-type tests) gets its proof the same way.
            try:
                body = json_module.loads(content)
            except ValueError:
                body = None
            if isinstance(body, dict) and "proof" not in body:
                body["proof"] = prove(self, purpose, pow_binding(purpose, body))
                content = json_module.dumps(body).encode()
        return super().post(url, *args, json=json, content=content, **kwargs)


class ProvingClient(Proving, TestClient):
    """The API test client (conftest `client`)."""


class ProvingHttpClient(Proving, httpx.Client):
    """The same for a real server on a loopback port."""


class Submitter:
    """Someone holding a case key, doing what the browser does."""

    def __init__(self) -> None:
        self.case_key = casekey.generate()
        self.keys = derive_case_keys(self.case_key)
        self.case_id = case_id_of(self.keys.lookup)

    @property
    def lookup(self) -> str:
        return b64encode(self.keys.lookup)

    def report(self, desks, attachments=(), text: str = "I was questioned after the session.") -> bytes:
        body = {
            "v": 1,
            "kind": "report",
            "case_id": self.case_id,
            "day": DAY,
            "lang": "en",
            "reply_pk": b64encode(self.keys.reply_public),
            "sign_pk": b64encode(self.keys.sign_public),
            "report": {"schema": "quietline.report/2", "country": "SY", "text": text},
            "attachments": list(attachments),
        }
        return envelope.seal("report", body, self.keys.sign_secret, tuple(d.public if isinstance(d, DeskKeys) else d for d in desks))

    def followup(self, desks, attachments=(), text: str = "More happened.") -> bytes:
        body = {
            "v": 1,
            "kind": "followup",
            "case_id": self.case_id,
            "id": "ab" * 16,
            "day": DAY,
            "text": text,
            "attachments": list(attachments),
        }
        return envelope.seal("followup", body, self.keys.sign_secret, tuple(d.public if isinstance(d, DeskKeys) else d for d in desks))


@dataclass
class Attachment:
    data: bytes
    params: StreamParams
    chunks: list[bytes]
    upload_id: str | None = None

    def descriptor(self) -> dict:
        return {
            "upload_id": self.upload_id,
            "name": "evidence.bin",
            "type": "application/octet-stream",
            "size": self.params.size,
            "key": b64encode(self.params.key),
            "header": b64encode(self.params.header),
            "chunks": self.params.chunks,
        }


def attachment(size: int, seed: int = 7) -> Attachment:
    data = hashlib.shake_256(f"evidence-{seed}".encode()).digest(size) if size else b""
    params, chunks = seal_bytes(data)
    assert all(len(c) == CHUNK_CIPHERTEXT for c in chunks)
    return Attachment(data, params, chunks)


def upload(client, att: Attachment, *, skip: tuple[int, ...] = ()) -> str:
    """Create an upload and send its chunks (all but `skip`); returns the upload id."""
    response = client.post("/api/v1/uploads", json={"chunks": len(att.chunks)})
    assert response.status_code == 201, response.text
    upload_id = response.json()["upload_id"]
    for index, chunk in enumerate(att.chunks):
        if index in skip:
            continue
        put = client.put(f"/api/v1/uploads/{upload_id}/chunks/{index}", content=chunk)
        assert put.status_code == 204, put.text
    att.upload_id = upload_id
    return upload_id


def file_case(client, submitter: Submitter, desks, attachments=()) -> dict:
    for att in attachments:
        if att.upload_id is None:
            upload(client, att)
    env = submitter.report(desks, [a.descriptor() for a in attachments])
    response = client.post(
        "/api/v1/cases",
        json={"lookup": submitter.lookup, "envelope": b64encode(env), "uploads": [a.upload_id for a in attachments]},
    )
    assert response.status_code == 201, response.text
    return response.json()


def make_reply(desk: DeskKeys, submitter: Submitter, seq: int, text: str = "We received your report.") -> bytes:
    reply = Reply(submitter.case_id, seq, "received", text, DAY, desk.id)
    return seal_reply(reply, desk.public, desk.sign_secret, submitter.keys.reply_public)


def outbound_bundle(
    signer: DeskKeys,
    *,
    acks=(),
    replies=(),
    bundle_id: str | None = None,
    desk_id: str | None = None,
    header_extra: dict | None = None,
) -> tuple[str, bytes]:
    """`replies` are (case_id, seq, blob). Signed by `signer`; the header names `desk_id`
    (the signer's id unless given)."""
    bundle_id = bundle_id or secrets.token_hex(16)
    entries, blobs = [], []
    for case_id, seq, blob in replies:
        entries.append({"case_id": case_id, "seq": seq, "blob": len(blobs)})
        blobs.append((len(blob), [blob]))
    header = {
        "v": 1,
        "bundle_id": bundle_id,
        "desk": desk_id or signer.id,
        "day": DAY,
        "acks": list(acks),
        "replies": entries,
        **(header_extra or {}),
    }
    out = io.BytesIO()
    write_bundle(out, OUTBOUND, header, blobs, sign_secret=signer.sign_secret)
    return bundle_id, out.getvalue()


def open_inbound(data: bytes) -> tuple[Bundle, io.BytesIO]:
    f = io.BytesIO(data)
    return read_bundle(f, INBOUND), f


def _plain(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, memoryview):
        return bytes(value)
    return value


@dataclass
class Env:
    root: Path
    db_path: Path
    blob_dir: Path
    client_dir: Path
    manifest_path: Path
    deployment_path: Path
    tokens_path: Path
    extra: dict = field(default_factory=dict)
    # Set when the test's blob store is an object store (tests/api/blobstores.py): its
    # objects, which blob_data() shows besides the files under blob_dir.
    blob_reader: Callable[[], dict[str, bytes]] | None = None

    database_url: str = ""

    def __post_init__(self) -> None:
        self.database_url = self.database_url or f"sqlite:///{self.db_path}"
        self._engine = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def engine(self):
        """A plain engine of the test's own, independent of the app's. On SQLite it keeps no
        connection open between uses; PostgreSQL's connections are pooled, since each new one
        costs a server process (the test's database is dropped with them at its end)."""
        if self._engine is None:
            self._engine = create_engine(self.database_url, poolclass=NullPool) if self.is_sqlite else create_engine(self.database_url)
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def rows(self, table: str) -> list[tuple]:
        """A table's rows as SQLite would show them (days as text, booleans as 0/1), on any backend."""
        assert table in TABLES
        with self.engine().connect() as conn:
            result = conn.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))
            return [tuple(_plain(v) for v in row) for row in result]

    def count(self, table: str) -> int:
        return len(self.rows(table))

    def blob_data(self) -> dict[str, bytes]:
        """Every file under the blob folder except anonymous spools and, with an object
        store, every object in the test's bucket: by name, in name order."""
        files = {str(p.relative_to(self.blob_dir)): p.read_bytes() for p in sorted(self.blob_dir.rglob("*")) if p.is_file()}
        return {**files, **(self.blob_reader() if self.blob_reader is not None else {})}

    def blob_files(self) -> dict[str, str]:
        """The same with a content digest for each."""
        return {name: hashlib.sha256(data).hexdigest() for name, data in self.blob_data().items()}

    def snapshot(self) -> dict:
        """Everything the server has stored: each table's full content and every file."""
        return {
            "tables": {t: hashlib.sha256(repr(self.rows(t)).encode()).hexdigest() for t in TABLES},
            "counts": {t: self.count(t) for t in TABLES},
            "files": self.blob_files(),
        }
