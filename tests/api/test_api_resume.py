"""Resumable uploads (docs/API.md: `resume` and `header` on POST /api/v1/uploads, and
POST /api/v1/uploads/resume; docs/PROTOCOL.md, "Resumable attachments"), with real crypto/
on the submitter's side: the server keeps only the resume index, gives the header back,
clears the index when the upload is filed, and a stream interrupted and restarted from that
header is assembled into exactly the stream an uninterrupted upload gives."""

import base64
import hashlib

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from crypto import upload as keys
from crypto.attachment import CHUNK_CIPHERTEXT, CHUNK_PLAINTEXT, AttachmentSealer, StreamParams, open_bytes, seal_bytes
from crypto.encoding import b64encode
from server.storage.db import make_engine
from server.storage.migrate import downgrade, upgrade
from server.storage.models import Upload

from .support import DAY, TABLES, Attachment, Submitter, file_case, open_inbound, upload


def error(response) -> str:
    return response.json()["error"]["code"]


def evidence(size: int, seed: int = 1) -> bytes:
    return hashlib.shake_256(f"resume-{seed}".encode()).digest(size) if size else b""


class Resumable:
    """One file of one case, as the page holds it: everything derived from the case key and the bytes."""

    def __init__(self, submitter: Submitter, data: bytes, piece: int = 100_000):
        self.submitter = submitter
        self.data = data
        digest = keys.file_hash(data[i:i + piece] for i in range(0, len(data), piece))
        self.resume, self.stream_key = keys.upload_keys(submitter.case_key, digest)
        self.index = keys.resume_index(self.resume)

    def sealer(self, header: bytes | None = None) -> AttachmentSealer:
        return AttachmentSealer(len(self.data), self.stream_key, header)

    def chunks(self, sealer: AttachmentSealer) -> list[bytes]:
        c = CHUNK_PLAINTEXT
        return [sealer.seal_chunk(self.data[i * c:(i + 1) * c]) for i in range(sealer.params.chunks)]

    def create_body(self, header: bytes, chunks: int) -> dict:
        return {"chunks": chunks, "resume": b64encode(self.resume), "header": b64encode(header)}


def create(client, r: Resumable, header: bytes, chunks: int):
    return client.post("/api/v1/uploads", json=r.create_body(header, chunks))


def find(client, resume: bytes):
    return client.post("/api/v1/uploads/resume", json={"resume": b64encode(resume)})


def put(client, upload_id: str, index: int, chunk: bytes) -> None:
    response = client.put(f"/api/v1/uploads/{upload_id}/chunks/{index}", content=chunk)
    assert response.status_code == 204, response.text


def upload_row(env, upload_id: str) -> tuple:
    [row] = [r for r in env.rows("uploads") if r[0] == upload_id]
    return row


def descriptor(upload_id: str, params: StreamParams) -> dict:
    return {"upload_id": upload_id, "name": "évidence.pdf", "type": "application/pdf", "size": params.size,
            "key": b64encode(params.key), "header": b64encode(params.header), "chunks": params.chunks}


def file_followup(client, s: Submitter, desks, uploads: list[tuple[str, StreamParams]]):
    env = s.followup(desks, [descriptor(u, p) for u, p in uploads])
    return client.post("/api/v1/cases/followups",
                       json={"lookup": s.lookup, "envelope": b64encode(env), "uploads": [u for u, _ in uploads]})


# -- create ------------------------------------------------------------------------------


def test_create_resumable_upload_stores_only_the_index_and_the_header(client, env):
    r = Resumable(Submitter(), evidence(1000))
    sealer = r.sealer()
    response = create(client, r, sealer.params.header, sealer.params.chunks)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"upload_id", "chunks", "chunk_bytes"}
    assert body["chunks"] == 1 and body["chunk_bytes"] == CHUNK_CIPHERTEXT
    assert upload_row(env, body["upload_id"]) == (body["upload_id"], 1, DAY, None, None, 0, r.index, sealer.params.header)
    # `resume` itself, in any spelling, is nowhere in what the server stored.
    stored = repr([env.rows(t) for t in TABLES])
    for spelling in (r.resume.hex(), b64encode(r.resume), repr(r.resume), r.stream_key.hex(), repr(r.stream_key)):
        assert spelling not in stored


def test_create_without_resume_is_not_resumable(client, env):
    response = client.post("/api/v1/uploads", json={"chunks": 2})
    assert response.status_code == 201
    upload_id = response.json()["upload_id"]
    assert upload_row(env, upload_id)[6:] == (None, None)
    # Two plain uploads at once: NULL indexes never collide.
    assert client.post("/api/v1/uploads", json={"chunks": 2}).status_code == 201


def test_same_resume_while_unfiled_is_upload_exists_and_stores_nothing(client, env):
    r = Resumable(Submitter(), evidence(10))
    header = r.sealer().params.header
    assert create(client, r, header, 1).status_code == 201
    before = env.snapshot()
    for h in (header, r.sealer().params.header):  # the same handle with any header
        response = create(client, r, h, 1)
        assert response.status_code == 409 and error(response) == "upload_exists"
    assert env.snapshot() == before


def test_other_files_and_other_cases_get_their_own_uploads(client, env):
    s = Submitter()
    data = evidence(5000)
    changed = bytearray(data)
    changed[-1] ^= 1
    mine = [Resumable(s, data), Resumable(s, bytes(changed)), Resumable(Submitter(), data)]
    assert len({r.index for r in mine}) == 3
    for r in mine:
        assert create(client, r, r.sealer().params.header, 1).status_code == 201
    assert env.count("uploads") == 3


def test_the_unique_index_refuses_a_second_unfiled_row(ctx):
    with ctx.db.write() as session:
        session.execute(insert(Upload).values(upload_id="a" * 32, chunks=1, created_day=ctx.today(),
                                              resume_index="b" * 32, stream_header=bytes(24)))
    with pytest.raises(IntegrityError):
        with ctx.db.write() as session:
            session.execute(insert(Upload).values(upload_id="c" * 32, chunks=1, created_day=ctx.today(),
                                                  resume_index="b" * 32, stream_header=bytes(24)))


RESUME = b64encode(bytes(range(32)))
HEADER = b64encode(bytes(range(24)))


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"chunks": 1, "resume": RESUME}, 400, "bad_resume"),
        ({"chunks": 1, "header": HEADER}, 400, "bad_resume"),
        ({"chunks": 1, "resume": RESUME, "header": None}, 400, "bad_resume"),
        ({"chunks": 1, "resume": RESUME[:-2] + "9=", "header": HEADER}, 400, "bad_resume"),  # non-canonical
        ({"chunks": 1, "resume": "not base64!", "header": HEADER}, 400, "bad_resume"),
        ({"chunks": 1, "resume": b64encode(bytes(31)), "header": HEADER}, 400, "bad_resume"),
        ({"chunks": 1, "resume": b64encode(bytes(33)), "header": HEADER}, 400, "bad_resume"),
        ({"chunks": 1, "resume": "", "header": HEADER}, 400, "bad_resume"),
        ({"chunks": 1, "resume": RESUME, "header": b64encode(bytes(23))}, 400, "bad_resume"),
        ({"chunks": 1, "resume": RESUME, "header": b64encode(bytes(25))}, 400, "bad_resume"),
        ({"chunks": 1, "resume": RESUME, "header": " " + HEADER}, 400, "bad_resume"),
        ({"chunks": 5, "resume": RESUME, "header": HEADER}, 400, "bad_chunk_count"),
        ({"chunks": 6144, "resume": RESUME, "header": HEADER}, 413, "too_large"),
        ({"chunks": 1, "resume": 7, "header": HEADER}, 422, "bad_request"),
        ({"chunks": 1, "resume": RESUME, "header": [1]}, 422, "bad_request"),
        ({"chunks": 1, "resume": RESUME, "header": HEADER, "resume_index": "0" * 32}, 422, "bad_request"),
    ],
)
def test_create_refusals_store_nothing(client, env, body, status, code):
    before = env.snapshot()
    response = client.post("/api/v1/uploads", json=body)
    assert response.status_code == status, response.text
    assert error(response) == code
    assert env.snapshot() == before


# -- resume ------------------------------------------------------------------------------


def test_resume_returns_the_header_and_the_chunks_held(client, env):
    r = Resumable(Submitter(), evidence(3 * CHUNK_PLAINTEXT + 1))  # 4 chunks
    sealer = r.sealer()
    chunks = r.chunks(sealer)
    upload_id = create(client, r, sealer.params.header, 4).json()["upload_id"]
    response = find(client, r.resume)
    assert response.status_code == 200, response.text
    assert response.json() == {"upload_id": upload_id, "chunks": 4, "received": [],
                               "header": b64encode(sealer.params.header)}
    put(client, upload_id, 2, chunks[2])
    put(client, upload_id, 0, chunks[0])
    before = env.snapshot()
    assert find(client, r.resume).json()["received"] == [0, 2]
    assert env.snapshot() == before  # looking does not change anything
    assert client.get(f"/api/v1/uploads/{upload_id}").json()["received"] == [0, 2]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"resume": "not base64"}, 400, "bad_resume"),
        ({"resume": RESUME[:-1] + "=="}, 400, "bad_resume"),
        ({"resume": b64encode(bytes(16))}, 400, "bad_resume"),
        ({"resume": b64encode(bytes(64))}, 400, "bad_resume"),
        ({"resume": RESUME}, 404, "unknown_upload"),
        ({}, 422, "bad_request"),
        ({"resume": None}, 422, "bad_request"),
        ({"resume": 1}, 422, "bad_request"),
        ({"resume": RESUME, "header": HEADER}, 422, "bad_request"),
    ],
)
def test_resume_refusals(client, env, body, status, code):
    before = env.snapshot()
    response = client.post("/api/v1/uploads/resume", json=body)
    assert response.status_code == status, response.text
    assert error(response) == code
    assert env.snapshot() == before


def test_resume_is_post_only(client):
    assert client.get("/api/v1/uploads/resume").status_code == 404  # not an upload id: unknown_upload
    assert client.put("/api/v1/uploads/resume", json={"resume": RESUME}).status_code == 405


def test_plain_upload_is_not_found_by_resume(client):
    upload_id = client.post("/api/v1/uploads", json={"chunks": 1}).json()["upload_id"]
    assert upload_id
    response = find(client, bytes(32))
    assert response.status_code == 404 and error(response) == "unknown_upload"


# -- filing ------------------------------------------------------------------------------


def test_filing_clears_the_index_and_a_later_follow_up_makes_a_new_upload(client, env, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])  # the report first, without attachments
    r = Resumable(s, evidence(700))
    sealer = r.sealer()
    [chunk] = r.chunks(sealer)
    upload_id = create(client, r, sealer.params.header, 1).json()["upload_id"]
    put(client, upload_id, 0, chunk)
    response = file_followup(client, s, [desk], [(upload_id, sealer.params)])
    assert response.status_code == 201, response.text
    assert upload_row(env, upload_id)[3:7] == (s.case_id, 1, 0, None)

    response = find(client, r.resume)
    assert response.status_code == 404 and error(response) == "unknown_upload"
    # The same file again in a later follow-up: same key, new header, new upload.
    again = r.sealer()
    assert again.params.key == sealer.params.key and again.params.header != sealer.params.header
    second = create(client, r, again.params.header, 1)
    assert second.status_code == 201
    assert find(client, r.resume).json()["upload_id"] == second.json()["upload_id"] != upload_id


def test_filing_with_a_report_clears_the_index_too(client, env, org):
    s = Submitter()
    r = Resumable(s, evidence(10))
    sealer = r.sealer()
    upload_id = create(client, r, sealer.params.header, 1).json()["upload_id"]
    put(client, upload_id, 0, r.chunks(sealer)[0])
    att = Attachment(r.data, sealer.params, [], upload_id)
    file_case(client, s, [org.desks["desk-1"]], [att])
    assert upload_row(env, upload_id)[6] is None
    assert find(client, r.resume).status_code == 404


def test_failed_filing_keeps_the_upload_resumable(client, env, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    r = Resumable(s, evidence(10))
    sealer = r.sealer()
    upload_id = create(client, r, sealer.params.header, 1).json()["upload_id"]
    put(client, upload_id, 0, r.chunks(sealer)[0])
    incomplete = Resumable(s, evidence(CHUNK_PLAINTEXT + 1, seed=2))
    other = incomplete.sealer()
    other_id = create(client, incomplete, other.params.header, 2).json()["upload_id"]
    put(client, other_id, 0, incomplete.chunks(other)[0])
    before = env.snapshot()
    response = file_followup(client, s, [desk], [(upload_id, sealer.params), (other_id, other.params)])
    assert response.status_code == 400 and error(response) == "upload_incomplete"
    assert env.snapshot() == before  # the first upload was not filed, its index not cleared
    assert find(client, r.resume).json()["upload_id"] == upload_id
    assert find(client, incomplete.resume).json()["received"] == [0]


# -- a dropped connection, end to end ------------------------------------------------------


def test_a_stream_resumed_after_a_drop_is_the_uninterrupted_stream(client, env, org):
    """The page seals and sends chunk 0 and 1, the connection drops; after a reload the person
    opens the case with the key and chooses the same file: the page derives resume and the key
    again, learns the header and the chunks held, restarts the stream, and sends the rest.
    The desk gets a stream that opens, byte for byte the never-interrupted one."""
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    data = evidence(4 * CHUNK_PLAINTEXT + 10)  # 5 chunks of file, 6 in the bucket
    first = Resumable(s, data)
    sealer = first.sealer()
    assert sealer.params.chunks == 6
    created = create(client, first, sealer.params.header, sealer.params.chunks).json()
    for index in range(2):
        put(client, created["upload_id"], index, sealer.seal_chunk(data[index * CHUNK_PLAINTEXT:(index + 1) * CHUNK_PLAINTEXT]))
    del sealer, first  # the drop and the reload: the page keeps nothing

    again = Resumable(s, data, piece=CHUNK_PLAINTEXT)
    state = find(client, again.resume).json()
    assert state["upload_id"] == created["upload_id"] and state["received"] == [0, 1]
    header = base64.b64decode(state["header"])
    restarted = again.sealer(header)
    for index, chunk in enumerate(again.chunks(restarted)):
        if index not in state["received"]:
            put(client, state["upload_id"], index, chunk)
    assert find(client, again.resume).json()["received"] == list(range(6))
    response = file_followup(client, s, [desk], [(state["upload_id"], restarted.params)])
    assert response.status_code == 201, response.text

    pulled = client.get("/api/v1/desk/inbound", headers=org.auth("desk-1"))
    bundle, f = open_inbound(pulled.content)
    [item] = [i for i in bundle.header["items"] if i["type"] == "attachment"]
    assert item["upload_id"] == state["upload_id"] and item["chunks"] == 6
    assembled = bundle.read_blob(f, item["blob"])
    assert open_bytes(StreamParams(again.stream_key, header, len(data), 6), assembled) == data
    _, uninterrupted = seal_bytes(data, again.stream_key, header)
    assert assembled == b"".join(uninterrupted)


def test_another_file_cannot_continue_the_stream(client, org):
    """Choosing a different file finds nothing to continue: its resume handle is another."""
    s = Submitter()
    r = Resumable(s, evidence(10))
    sealer = r.sealer()
    create(client, r, sealer.params.header, 1)
    other = Resumable(s, evidence(10, seed=3))
    assert find(client, other.resume).status_code == 404


# -- schema --------------------------------------------------------------------------------


def test_migration_0002_goes_down_and_up_with_data(client, env, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    r = Resumable(s, evidence(10))
    sealer = r.sealer()
    resumable = create(client, r, sealer.params.header, 1).json()["upload_id"]
    plain = upload(client, Attachment(b"", *seal_bytes(b"")))
    before = {row[0]: row for row in env.rows("uploads")}
    assert before[resumable][6:] == (r.index, sealer.params.header)
    client.app.state.ctx.db.dispose()
    env.dispose()

    downgrade(env.database_url, "0001")
    rows = {row[0]: row for row in env.rows("uploads")}
    assert rows == {k: v[:6] for k, v in before.items()}  # every upload kept, without the new columns
    assert env.count("cases") == 1 and env.count("upload_chunks") == 1
    env.dispose()

    upgrade(env.database_url)
    rows = {row[0]: row for row in env.rows("uploads")}
    assert rows == {k: v[:6] + (None, None) for k, v in before.items()}
    assert set(rows) == {resumable, plain}
    env.dispose()
    engine = make_engine(env.database_url)
    try:
        from sqlalchemy import inspect

        [index] = [i for i in inspect(engine).get_indexes("uploads") if i["name"] == "ix_uploads_resume_index"]
        assert index["unique"] and index["column_names"] == ["resume_index"]
    finally:
        engine.dispose()
