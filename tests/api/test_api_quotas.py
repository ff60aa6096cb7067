"""Per-case follow-up limits (429 followup_limit) and storage quotas (507 storage_full):
with tiny limits in the test's Settings, each refusal stores nothing, leaves what was filed
untouched, holds under concurrent requests, and acknowledging (or filing) frees room again."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from crypto.attachment import CHUNK_CIPHERTEXT
from crypto.encoding import b64encode
from server.cases import file_followup
from server.errors import ApiError
from server.quotas import unfiled_bytes, waiting_bytes
from server.uploads import create_upload
from server.settings import Settings

from .support import Submitter, attachment, file_case, outbound_bundle, upload

FOLLOWUP_LIMITS = {"followups_per_case_per_day": 3, "followups_pending_per_case": 5}
ENVELOPE = 1159  # a report or follow-up envelope to one desk, as Submitter makes them
QUOTA_LIMITS = {
    # Room for three chunks and two envelopes waiting for the desk; two unfiled chunks.
    "storage_quota_bytes": 3 * CHUNK_CIPHERTEXT + 2 * ENVELOPE + 500,
    "unfiled_upload_quota_bytes": 2 * CHUNK_CIPHERTEXT,
}
with_followup_limits = pytest.mark.parametrize("limits", [FOLLOWUP_LIMITS], ids=["followup-limits"])


@pytest.fixture
def limits() -> dict:
    return QUOTA_LIMITS


@pytest.fixture
def settings(settings, limits) -> Settings:
    return Settings(**{**settings.model_dump(), **limits})


def post_followup(client, s: Submitter, desk, uploads=(), text="More happened."):
    return client.post(
        "/api/v1/cases/followups",
        json={"lookup": s.lookup, "envelope": b64encode(s.followup([desk], text=text)), "uploads": list(uploads)},
    )


def post_case(client, s: Submitter, desk, uploads=()):
    return client.post(
        "/api/v1/cases", json={"lookup": s.lookup, "envelope": b64encode(s.report([desk])), "uploads": list(uploads)}
    )


def push(client, org, **bundle):
    _, data = outbound_bundle(org.desks["desk-1"], **bundle)
    response = client.post(
        "/api/v1/desk/outbound", content=data, headers={**org.auth(), "Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 200, response.text


def refused(env, response, status: int, code: str, before: dict) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert env.snapshot() == before  # nothing stored, nothing filed changed


# -- per-case follow-up limits ---------------------------------------------------------------


@with_followup_limits
def test_followups_per_case_per_day(client, env, org, clock):
    desk = org.desks["desk-1"]
    s, other = Submitter(), Submitter()
    file_case(client, s, [desk])
    file_case(client, other, [desk])
    for _ in range(3):
        assert post_followup(client, s, desk).status_code == 201
    att = attachment(100)
    upload(client, att)
    before = env.snapshot()
    refused(env, post_followup(client, s, desk, [att.upload_id]), 429, "followup_limit", before)
    # The upload it named is still unfiled, and another case is not held back.
    assert [r[3] for r in env.rows("uploads")] == [None]
    assert post_followup(client, other, desk).status_code == 201
    # The next day the case may be written to again, with the same upload.
    clock.advance(1)
    response = post_followup(client, s, desk, [att.upload_id])
    assert response.status_code == 201 and response.json()["seq"] == 4


@with_followup_limits
def test_followups_waiting_for_the_desk_per_case(client, env, org, clock):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    for _ in range(5):  # one a day, so only the pending limit applies
        assert post_followup(client, s, desk).status_code == 201
        clock.advance(1)
    before = env.snapshot()
    refused(env, post_followup(client, s, desk), 429, "followup_limit", before)
    # The desk imports (acknowledges) two of them: two more may wait.
    push(client, org, acks=[{"type": "followup", "case_id": s.case_id, "seq": n} for n in (1, 2)])
    assert post_followup(client, s, desk).status_code == 201
    assert post_followup(client, s, desk).status_code == 201
    assert post_followup(client, s, desk).status_code == 429


@with_followup_limits
def test_followup_limit_holds_under_concurrent_requests(client, ctx, env, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    envelopes = [b64encode(s.followup([desk], text=f"note {i}")) for i in range(12)]

    def attempt(envelope):
        try:
            return file_followup(ctx, s.lookup, envelope, []).seq
        except ApiError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(attempt, envelopes))
    assert sorted(r for r in results if isinstance(r, int)) == [1, 2, 3]
    assert results.count("followup_limit") == 9
    assert env.count("followups") == 3


# -- storage quotas --------------------------------------------------------------------------


def test_upload_creation_is_refused_past_either_quota(client, env, org):
    # Two chunks unfiled fill the unfiled quota; a third is refused though storage has room.
    first = client.post("/api/v1/uploads", json={"chunks": 2})
    assert first.status_code == 201
    before = env.snapshot()
    refused(env, client.post("/api/v1/uploads", json={"chunks": 1}), 507, "storage_full", before)
    # Filed with a report, they no longer count as unfiled, but still wait for the desk.
    upload_id = first.json()["upload_id"]
    for index in range(2):
        assert client.put(f"/api/v1/uploads/{upload_id}/chunks/{index}", content=bytes(CHUNK_CIPHERTEXT)).status_code == 204
    s = Submitter()
    assert post_case(client, s, org.desks["desk-1"], [upload_id]).status_code == 201
    assert client.post("/api/v1/uploads", json={"chunks": 1}).status_code == 201
    # Now three chunks and an envelope wait: one more chunk would pass the storage quota.
    before = env.snapshot()
    refused(env, client.post("/api/v1/uploads", json={"chunks": 1}), 507, "storage_full", before)


def test_reports_and_followups_are_refused_when_storage_is_full(client, env, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    att = attachment(300_000, seed=3)  # two chunks
    file_case(client, s, [desk], [att])
    third = client.post("/api/v1/uploads", json={"chunks": 1})
    assert third.status_code == 201
    # Three chunks and the report held: room for one more envelope, not two.
    assert post_followup(client, s, desk).status_code == 201
    held = waiting_bytes_of(client)
    assert held == 3 * CHUNK_CIPHERTEXT + 2 * ENVELOPE
    before = env.snapshot()
    refused(env, post_followup(client, s, desk), 507, "storage_full", before)
    refused(env, post_case(client, Submitter(), desk), 507, "storage_full", before)
    # Lookups still answer: nothing filed is touched by the refusals.
    assert client.post("/api/v1/cases/lookup", json={"lookup": s.lookup}).json()["found"] is True

    # The desk imports the report and its attachment: their room is free again.
    push(client, org, acks=[{"type": "report", "case_id": s.case_id}, {"type": "attachment", "upload_id": att.upload_id}])
    assert waiting_bytes_of(client) < held - 2 * CHUNK_CIPHERTEXT
    assert post_case(client, Submitter(), desk).status_code == 201
    assert post_followup(client, s, desk).status_code == 201


def test_upload_quota_holds_under_concurrent_requests(ctx, env):
    def attempt(_):
        try:
            return create_upload(ctx, 1).upload_id
        except ApiError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8)))
    assert results.count("storage_full") == 6  # two chunks' room, unfiled
    assert env.count("uploads") == 2


def waiting_bytes_of(client) -> int:
    with client.app.state.ctx.db.read() as session:
        return waiting_bytes(session)


def test_quota_totals_follow_what_waits(client, env, org, clock):
    ctx = client.app.state.ctx
    desk = org.desks["desk-1"]
    with ctx.db.read() as session:
        assert (waiting_bytes(session), unfiled_bytes(session)) == (0, 0)
    created = client.post("/api/v1/uploads", json={"chunks": 2})
    upload_id = created.json()["upload_id"]
    with ctx.db.read() as session:
        # Reserved at creation from the declared count, before any chunk arrives.
        assert (waiting_bytes(session), unfiled_bytes(session)) == (2 * CHUNK_CIPHERTEXT, 2 * CHUNK_CIPHERTEXT)
    s = Submitter()
    file_case(client, s, [desk])
    [(_, _, envelope, *_)] = env.rows("cases")
    with ctx.db.read() as session:
        assert waiting_bytes(session) == 2 * CHUNK_CIPHERTEXT + len(envelope)
    # An orphan upload purged at a pull frees its reservation.
    clock.advance(2)
    assert client.get("/api/v1/desk/inbound", headers=org.auth()).status_code == 200
    assert upload_id not in [r[0] for r in env.rows("uploads")]
    with ctx.db.read() as session:
        assert (waiting_bytes(session), unfiled_bytes(session)) == (len(envelope), 0)
