"""POST /api/v1/uploads, PUT .../chunks/{index}, GET /api/v1/uploads/{id}."""

import pytest

from crypto.attachment import CHUNK_CIPHERTEXT

from .blobstores import both_blob_stores
from .support import Submitter, attachment, file_case, upload


def error(response) -> str:
    return response.json()["error"]["code"]


def new_upload(client, chunks: int = 3) -> str:
    response = client.post("/api/v1/uploads", json={"chunks": chunks})
    assert response.status_code == 201, response.text
    return response.json()["upload_id"]


# -- create ------------------------------------------------------------------------------


@pytest.mark.parametrize("chunks", [1, 2, 3, 4, 6, 8, 12, 16, 24, 4096])
def test_create_upload_for_every_bucket(client, env, chunks):
    response = client.post("/api/v1/uploads", json={"chunks": chunks})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"upload_id", "chunks", "chunk_bytes"}
    assert len(body["upload_id"]) == 32 and int(body["upload_id"], 16) >= 0
    assert body["chunks"] == chunks and body["chunk_bytes"] == CHUNK_CIPHERTEXT == 262161
    assert env.rows("uploads") == [(body["upload_id"], chunks, "2026-11-23", None, None, 0, None, None)]


def test_upload_ids_are_random(client):
    assert len({new_upload(client) for _ in range(5)}) == 5


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"chunks": 5}, 400, "bad_chunk_count"),
        ({"chunks": 7}, 400, "bad_chunk_count"),
        ({"chunks": 0}, 400, "bad_chunk_count"),
        ({"chunks": -4}, 400, "bad_chunk_count"),
        ({"chunks": 6144}, 413, "too_large"),
        ({"chunks": 2**70}, 413, "too_large"),
        ({"chunks": "4"}, 422, "bad_request"),
        ({"chunks": 4.0}, 422, "bad_request"),
        ({"chunks": True}, 422, "bad_request"),
        ({}, 422, "bad_request"),
        ({"chunks": 4, "name": "passport.jpg"}, 422, "bad_request"),
        ([4], 422, "bad_request"),
    ],
)
def test_create_upload_refusals_store_nothing(client, env, body, status, code):
    before = env.snapshot()
    response = client.post("/api/v1/uploads", json=body)
    assert response.status_code == status, response.text
    assert error(response) == code
    assert env.snapshot() == before


def test_create_upload_malformed_json(client, env):
    before = env.snapshot()
    response = client.post("/api/v1/uploads", content=b'{"chunks": 4', headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert error(response) == "bad_request"
    assert env.snapshot() == before


def test_max_chunks_setting_is_enforced(settings, clock):
    from server.app import create_app

    from .support import ProvingClient

    settings.max_chunks = 24
    with ProvingClient(create_app(settings, today=clock)) as c:
        assert c.post("/api/v1/uploads", json={"chunks": 24}).status_code == 201
        response = c.post("/api/v1/uploads", json={"chunks": 32})
        assert response.status_code == 413 and error(response) == "too_large"


# -- chunks ------------------------------------------------------------------------------


@both_blob_stores
def test_put_chunks_and_resume(client, env):
    att = attachment(3 * 262144 - 5)  # 3 chunks
    upload_id = new_upload(client, 3)
    assert client.get(f"/api/v1/uploads/{upload_id}").json() == {"upload_id": upload_id, "chunks": 3, "received": []}
    for index in (2, 0):
        response = client.put(f"/api/v1/uploads/{upload_id}/chunks/{index}", content=att.chunks[index])
        assert response.status_code == 204 and response.content == b""
    state = client.get(f"/api/v1/uploads/{upload_id}")
    assert state.status_code == 200
    assert state.json() == {"upload_id": upload_id, "chunks": 3, "received": [0, 2]}
    assert list(env.blob_data().values()) == [att.chunks[0], att.chunks[2]]


@both_blob_stores
def test_put_same_index_again_replaces_until_filed(client, env):
    upload_id = new_upload(client, 1)
    first, second = bytes([1]) * CHUNK_CIPHERTEXT, bytes([2]) * CHUNK_CIPHERTEXT
    assert client.put(f"/api/v1/uploads/{upload_id}/chunks/0", content=first).status_code == 204
    assert client.put(f"/api/v1/uploads/{upload_id}/chunks/0", content=second).status_code == 204
    assert env.count("upload_chunks") == 1
    assert list(env.blob_data().values()) == [second]  # and no temporary file left


@both_blob_stores
def test_put_chunk_streamed_without_content_length(client, env):
    upload_id = new_upload(client, 1)
    data = bytes(range(256)) * (CHUNK_CIPHERTEXT // 256) + bytes(CHUNK_CIPHERTEXT % 256)

    def pieces():
        for i in range(0, len(data), 10000):
            yield data[i : i + 10000]

    response = client.put(f"/api/v1/uploads/{upload_id}/chunks/0", content=pieces())
    assert response.status_code == 204
    assert list(env.blob_data().values()) == [data]


@pytest.mark.parametrize("size", [0, 1, CHUNK_CIPHERTEXT - 1, CHUNK_CIPHERTEXT + 1, 2 * CHUNK_CIPHERTEXT])
def test_wrong_chunk_size_stores_nothing(client, env, size):
    upload_id = new_upload(client, 2)
    before = env.snapshot()
    response = client.put(f"/api/v1/uploads/{upload_id}/chunks/0", content=bytes(size))
    assert response.status_code == 400
    assert error(response) == "bad_chunk_size"
    assert env.snapshot() == before


def test_oversized_chunk_streamed_without_content_length_is_cut_off(client, env):
    upload_id = new_upload(client, 2)
    before = env.snapshot()

    def pieces():
        for _ in range(100):  # 6.4 MB offered; the server stops after one chunk's worth
            yield bytes(65536)

    response = client.put(f"/api/v1/uploads/{upload_id}/chunks/1", content=pieces())
    assert response.status_code == 400 and error(response) == "bad_chunk_size"
    assert env.snapshot() == before


@pytest.mark.parametrize("index", ["3", "4", "99999999999999999999", "-1"])
def test_chunk_index_out_of_range_stores_nothing(client, env, index):
    upload_id = new_upload(client, 3)
    before = env.snapshot()
    response = client.put(f"/api/v1/uploads/{upload_id}/chunks/{index}", content=bytes(CHUNK_CIPHERTEXT))
    assert response.status_code == 400
    assert error(response) == "bad_chunk_index"
    assert env.snapshot() == before


def test_chunk_index_not_a_number(client, env):
    upload_id = new_upload(client, 3)
    before = env.snapshot()
    response = client.put(f"/api/v1/uploads/{upload_id}/chunks/one", content=bytes(CHUNK_CIPHERTEXT))
    assert response.status_code == 422 and error(response) == "bad_request"
    assert env.snapshot() == before


@pytest.mark.parametrize("upload_id", ["0" * 32, "not-an-id", ".." + "0" * 30, "A" * 32, "0" * 31])
def test_unknown_upload_stores_nothing(client, env, upload_id):
    new_upload(client, 1)
    before = env.snapshot()
    response = client.put(f"/api/v1/uploads/{upload_id}/chunks/0", content=bytes(CHUNK_CIPHERTEXT))
    assert response.status_code == 404 and error(response) == "unknown_upload"
    response = client.get(f"/api/v1/uploads/{upload_id}")
    assert response.status_code == 404 and error(response) == "unknown_upload"
    assert env.snapshot() == before


@both_blob_stores
def test_filed_upload_refuses_more_chunks(client, env, org):
    att = attachment(1000)
    file_case(client, Submitter(), [org.desks["desk-1"]], [att])
    before = env.snapshot()
    response = client.put(f"/api/v1/uploads/{att.upload_id}/chunks/0", content=bytes(CHUNK_CIPHERTEXT))
    assert response.status_code == 409 and error(response) == "upload_in_use"
    assert env.snapshot() == before
    # Still visible for resuming, complete.
    assert client.get(f"/api/v1/uploads/{att.upload_id}").json()["received"] == [0]


@both_blob_stores
def test_upload_filed_between_check_and_commit_is_not_changed(client, env, org, ctx):
    """The final guard runs under the write lock: a chunk whose upload was filed after the
    early check is discarded, not written over the filed one."""
    from server import uploads as service

    att = attachment(1000)
    upload(client, att)
    original = service.check_chunk_target
    service.check_chunk_target = lambda *a: None  # skip the early check, as if it had raced
    try:
        file_case(client, Submitter(), [org.desks["desk-1"]], [att])
        before = env.snapshot()
        with pytest.raises(Exception) as info:
            service.store_chunk(ctx, att.upload_id, 0, bytes(CHUNK_CIPHERTEXT))
        assert getattr(info.value, "code", None) == "upload_in_use"
    finally:
        service.check_chunk_target = original
    assert env.snapshot() == before


def test_get_upload_reports_chunks(client):
    upload_id = new_upload(client, 4)
    response = client.get(f"/api/v1/uploads/{upload_id}")
    assert response.status_code == 200
    assert response.json() == {"upload_id": upload_id, "chunks": 4, "received": []}
