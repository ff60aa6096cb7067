"""Desk endpoints: bearer authentication, inbound bundles (everything unacknowledged,
streamed from disk), outbound bundles (acks delete, replies are stored, all in one
transaction), and every refusal with nothing applied."""

import io
import json

import pytest

from crypto.attachment import CHUNK_CIPHERTEXT, open_bytes
from crypto.bundle import INBOUND, write_bundle
from crypto.encoding import b64decode
from crypto.envelope import open_envelope
from crypto.manifest import verify_manifest
from crypto.reply import open_reply
from server.outbound import MAX_REPLY_BYTES

from .blobstores import both_blob_stores
from .support import DAY, Submitter, attachment, file_case, make_reply, open_inbound, outbound_bundle, upload


def error(response) -> str:
    return response.json()["error"]["code"]


def pull(client, org, desk_id: str = "desk-1"):
    response = client.get("/api/v1/desk/inbound", headers=org.auth(desk_id))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    assert int(response.headers["content-length"]) == len(response.content)
    return open_inbound(response.content)


def push(client, org, data: bytes, desk_id: str = "desk-1"):
    return client.post(
        "/api/v1/desk/outbound", content=data, headers={**org.auth(desk_id), "Content-Type": "application/octet-stream"}
    )


def refused_push(client, env, org, data: bytes, status: int, code: str, desk_id: str = "desk-1"):
    before = env.snapshot()
    response = push(client, org, data, desk_id)
    assert response.status_code == status, response.text
    assert error(response) == code, response.text
    assert env.snapshot() == before
    return response


# -- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic ZGVzay0xOnB3",
        "Bearer desk-1",
        "Bearer desk-1.",
        "Bearer .token-token-token-token",
        "Bearer desk-1.wrong-token-wrong-token-wrong",
        "Bearer desk-3.wrong-token-wrong-token-wrong",
        "Bearer Desk-1.wrong-token-wrong-token-wrong",
    ],
)
def test_desk_endpoints_need_a_valid_token(client, env, org, header):
    headers = {} if header is None else {"Authorization": header}
    before = env.snapshot()
    for method, path in (("GET", "/api/v1/desk/inbound"), ("POST", "/api/v1/desk/outbound")):
        response = client.request(method, path, headers=headers, content=b"QLBUNDLE" if method == "POST" else None)
        assert response.status_code == 401, (method, header, response.text)
        assert error(response) == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    assert env.snapshot() == before


def test_token_of_one_desk_does_not_work_for_another(client, org):
    header = {"Authorization": f"Bearer desk-2.{org.tokens['desk-1']}"}
    assert client.get("/api/v1/desk/inbound", headers=header).status_code == 401


def test_desk_with_a_token_but_not_in_the_manifest_is_refused(client, org):
    assert client.get("/api/v1/desk/inbound", headers=org.auth("desk-9")).status_code == 401


def test_token_file_holds_only_argon2id_hashes(env, org):
    data = json.loads(env.tokens_path.read_text())
    for desk, token in org.tokens.items():
        assert data["desks"][desk].startswith("$argon2id$") and token not in env.tokens_path.read_text()


def test_both_desks_can_pull(client, org):
    for desk in ("desk-1", "desk-2"):
        bundle, _ = pull(client, org, desk)
        assert bundle.header["items"] == []


# -- inbound -------------------------------------------------------------------------------


def test_empty_inbound_bundle(client, org):
    bundle, _ = pull(client, org)
    header = bundle.header
    assert header["v"] == 1 and header["day"] == DAY and len(header["bundle_id"]) == 32
    assert header["items"] == [] and header["confirmed_outbound"] == [] and header["blobs"] == []


@both_blob_stores
def test_inbound_carries_reports_followups_and_attachments(client, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    report_att = attachment(700_000, seed=11)  # 3 chunks
    file_case(client, s, [desk], [report_att])
    follow_att = attachment(10, seed=12)
    upload(client, follow_att)
    response = client.post(
        "/api/v1/cases/followups",
        json={"lookup": s.lookup, "envelope": _b64(s.followup([desk], [follow_att.descriptor()])), "uploads": [follow_att.upload_id]},
    )
    assert response.status_code == 201

    bundle, f = pull(client, org)
    items = bundle.header["items"]
    by_type = {}
    for item in items:
        by_type.setdefault(item["type"], []).append(item)
    [report] = by_type["report"]
    assert report == {"type": "report", "case_id": s.case_id, "blob": report["blob"], "uploads": [report_att.upload_id]}
    opened = open_envelope(bundle.read_blob(f, report["blob"]), desk.public, desk.box_secret)
    opened.verify(s.keys.sign_public)
    assert opened.body["attachments"][0]["upload_id"] == report_att.upload_id

    [followup] = by_type["followup"]
    assert followup["seq"] == 1 and followup["uploads"] == [follow_att.upload_id]
    open_envelope(bundle.read_blob(f, followup["blob"]), desk.public, desk.box_secret).verify(s.keys.sign_public)

    attachments = {i["upload_id"]: i for i in by_type["attachment"]}
    assert set(attachments) == {report_att.upload_id, follow_att.upload_id}
    for att in (report_att, follow_att):
        item = attachments[att.upload_id]
        assert item["case_id"] == s.case_id and item["chunks"] == len(att.chunks)
        blob = bundle.read_blob(f, item["blob"])
        assert len(blob) == len(att.chunks) * CHUNK_CIPHERTEXT
        assert open_bytes(att.params, blob) == att.data


def test_inbound_can_be_pulled_again_until_acknowledged(client, org):
    s = Submitter()
    file_case(client, s, [org.desks["desk-1"]], [attachment(5)])
    first, _ = pull(client, org)
    second, _ = pull(client, org)
    assert first.header["bundle_id"] != second.header["bundle_id"]
    assert first.header["items"] == second.header["items"]


def test_unfiled_uploads_are_not_in_inbound(client, org):
    upload(client, attachment(5))
    bundle, _ = pull(client, org)
    assert bundle.header["items"] == []


# -- outbound: acknowledgements and replies ---------------------------------------------------


def _b64(data: bytes) -> str:
    from crypto.encoding import b64encode

    return b64encode(data)


def _case_with_everything(client, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    report_att = attachment(300_000, seed=21)
    file_case(client, s, [desk], [report_att])
    follow_att = attachment(42, seed=22)
    upload(client, follow_att)
    client.post(
        "/api/v1/cases/followups",
        json={"lookup": s.lookup, "envelope": _b64(s.followup([desk], [follow_att.descriptor()])), "uploads": [follow_att.upload_id]},
    )
    return s, report_att, follow_att


@both_blob_stores
def test_acknowledgement_deletes_envelopes_and_chunk_files(client, env, org):
    s, report_att, follow_att = _case_with_everything(client, org)
    assert len(env.blob_files()) == 2 + 1
    desk = org.desks["desk-1"]
    acks = [
        {"type": "report", "case_id": s.case_id},
        {"type": "followup", "case_id": s.case_id, "seq": 1},
        {"type": "attachment", "upload_id": report_att.upload_id},
        {"type": "attachment", "upload_id": follow_att.upload_id},
    ]
    bundle_id, data = outbound_bundle(desk, acks=acks)
    response = push(client, org, data)
    assert response.status_code == 200, response.text
    assert response.json() == {"bundle_id": bundle_id, "replies_stored": 0, "acks_applied": 4, "replies_dropped": 0}

    assert [row[:3] for row in env.rows("cases")] == [(s.case_id, DAY, None)]
    assert env.rows("followups") == [(s.case_id, 1, DAY, None)]
    assert env.count("upload_chunks") == 0
    assert {r[5] for r in env.rows("uploads")} == {1}
    assert env.blob_files() == {}
    # The case still answers its submitter; the desk gets nothing more.
    assert client.post("/api/v1/cases/lookup", json={"lookup": s.lookup}).json()["followups"] == 1
    bundle, _ = pull(client, org)
    assert bundle.header["items"] == []
    assert bundle.header["confirmed_outbound"] == [bundle_id]


@both_blob_stores
def test_partial_acknowledgement_keeps_the_rest(client, env, org):
    s, report_att, follow_att = _case_with_everything(client, org)
    _, data = outbound_bundle(org.desks["desk-1"], acks=[{"type": "attachment", "upload_id": report_att.upload_id}])
    assert push(client, org, data).status_code == 200
    bundle, _ = pull(client, org)
    kinds = sorted((i["type"], i.get("upload_id")) for i in bundle.header["items"])
    assert kinds == [("attachment", follow_att.upload_id), ("followup", None), ("report", None)]
    assert len(env.blob_files()) == 1


def test_replies_are_stored_and_readable_only_by_the_case(client, env, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    r1, r2 = make_reply(desk, s, 1), make_reply(desk, s, 2, "Could you tell us more?")
    bundle_id, data = outbound_bundle(desk, acks=[{"type": "report", "case_id": s.case_id}], replies=[(s.case_id, 1, r1), (s.case_id, 2, r2)])
    response = push(client, org, data)
    assert response.status_code == 200
    assert response.json() == {"bundle_id": bundle_id, "replies_stored": 2, "acks_applied": 1, "replies_dropped": 0}

    view = client.post("/api/v1/cases/lookup", json={"lookup": s.lookup}).json()
    assert [(r["seq"], r["day"]) for r in view["replies"]] == [(1, DAY), (2, DAY)]
    blobs = [b64decode(r["blob"]) for r in view["replies"]]
    assert blobs == [r1, r2]
    manifest = verify_manifest(org.manifest_bytes, org.root_pk)
    opened = open_reply(blobs[1], manifest, s.keys.reply_public, s.keys.reply_secret, s.case_id)
    assert opened.text == "Could you tell us more?" and opened.desk == "desk-1"


def test_confirmed_outbound_appears_in_the_next_inbound(client, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    ids = []
    for seq in (1, 2):
        bundle_id, data = outbound_bundle(desk, replies=[(s.case_id, seq, make_reply(desk, s, seq))])
        assert push(client, org, data).status_code == 200
        ids.append(bundle_id)
    bundle, _ = pull(client, org)
    assert sorted(bundle.header["confirmed_outbound"]) == sorted(ids)
    # Each desk sees the bundles it applied, not another desk's.
    other, _ = pull(client, org, "desk-2")
    assert other.header["confirmed_outbound"] == []


def test_resending_the_same_reply_is_a_noop(client, env, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    reply = make_reply(desk, s, 1)
    assert push(client, org, outbound_bundle(desk, replies=[(s.case_id, 1, reply)])[1]).status_code == 200
    response = push(client, org, outbound_bundle(desk, replies=[(s.case_id, 1, reply)])[1])
    assert response.status_code == 200 and response.json()["replies_stored"] == 1
    assert env.count("replies") == 1 and env.count("outbound_bundles") == 2


def test_reply_conflict(client, env, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    assert push(client, org, outbound_bundle(desk, replies=[(s.case_id, 1, make_reply(desk, s, 1, "first"))])[1]).status_code == 200
    _, data = outbound_bundle(
        desk, acks=[{"type": "report", "case_id": s.case_id}], replies=[(s.case_id, 1, make_reply(desk, s, 1, "other"))]
    )
    refused_push(client, env, org, data, 409, "reply_conflict")


def test_replayed_outbound_bundle(client, env, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    _, data = outbound_bundle(desk, acks=[{"type": "report", "case_id": s.case_id}])
    assert push(client, org, data).status_code == 200
    refused_push(client, env, org, data, 409, "bundle_replayed")


def test_bundle_signed_by_a_key_not_in_the_manifest(client, env, org):
    s = Submitter()
    file_case(client, s, [org.desks["desk-1"]])
    # Names desk-1, but signed with another key pair: the signature does not verify.
    _, data = outbound_bundle(org.outsider, acks=[{"type": "report", "case_id": s.case_id}], desk_id="desk-1")
    refused_push(client, env, org, data, 400, "bad_signature")
    # Names a desk the manifest does not list.
    _, data = outbound_bundle(org.outsider, acks=[{"type": "report", "case_id": s.case_id}], desk_id="desk-7")
    refused_push(client, env, org, data, 400, "unknown_desk")


def test_bundle_signed_by_another_desk_than_the_token(client, env, org):
    s = Submitter()
    file_case(client, s, [org.desks["desk-1"]])
    _, data = outbound_bundle(org.desks["desk-2"], acks=[{"type": "report", "case_id": s.case_id}])
    refused_push(client, env, org, data, 403, "wrong_desk", desk_id="desk-1")
    # The same bundle with desk-2's own token is fine.
    assert push(client, org, data, "desk-2").status_code == 200


@pytest.mark.parametrize(
    ("mangle", "status", "code"),
    [
        (lambda d: d[:200] + bytes([d[200] ^ 1]) + d[201:], 400, "bundle_corrupted"),
        (lambda d: d[:-70] + bytes([d[-70] ^ 0x80]) + d[-69:], 400, "bundle_corrupted"),
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), 400, "bad_signature"),
        (lambda d: d[:-10], 400, "truncated"),
        (lambda d: d[:300], 400, "truncated"),
        (lambda d: d + b"\0", 400, "bad_bundle"),
        (lambda d: b"NOTABUND" + d[8:], 400, "bad_bundle"),
        (lambda d: d[:8] + bytes([2]) + d[9:], 400, "unsupported_version"),
        (lambda d: d[:9] + b"I" + d[10:], 400, "wrong_direction"),
        (lambda d: b"", 400, "bad_bundle"),
        (lambda d: b"QLBUNDLE", 400, "bad_bundle"),
    ],
)
def test_corrupted_bundle(client, env, org, mangle, status, code):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    _, data = outbound_bundle(desk, acks=[{"type": "report", "case_id": s.case_id}], replies=[(s.case_id, 1, make_reply(desk, s, 1))])
    refused_push(client, env, org, mangle(data), status, code)


def test_inbound_bundle_pushed_back_is_wrong_direction(client, env, org):
    file_case(client, Submitter(), [org.desks["desk-1"]])
    response = client.get("/api/v1/desk/inbound", headers=org.auth())
    refused_push(client, env, org, response.content, 400, "wrong_direction")


@pytest.mark.parametrize(
    "header_extra",
    [
        {"acks": {"type": "report"}},
        {"acks": [{"type": "report", "case_id": "XYZ"}]},
        {"acks": [{"type": "followup", "case_id": "0" * 32, "seq": 0}]},
        {"acks": [{"type": "followup", "case_id": "0" * 32, "seq": True}]},
        {"acks": [{"type": "attachment", "upload_id": 5}]},
        {"acks": [{"type": "everything"}]},
        {"acks": ["report"]},
        {"replies": [{"case_id": "0" * 32, "seq": 1, "blob": 0}]},
        {"replies": "none"},
    ],
)
def test_malformed_bundle_header(client, env, org, header_extra):
    s = Submitter()
    file_case(client, s, [org.desks["desk-1"]])
    _, data = outbound_bundle(org.desks["desk-1"], header_extra=header_extra)
    refused_push(client, env, org, data, 400, "bad_bundle")


def test_bad_reply_framing_applies_nothing(client, env, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    good = make_reply(desk, s, 1)
    acks = [{"type": "report", "case_id": s.case_id}]
    for blob, code in (
        (b"QLRX" + good[4:], "bad_reply"),
        (good[:-1], "bad_reply"),
        (good[:4] + bytes([9]) + good[5:], "unsupported_version"),
        (b"", "bad_reply"),
        (bytes(MAX_REPLY_BYTES + 1), "bad_reply"),
    ):
        _, data = outbound_bundle(desk, acks=acks, replies=[(s.case_id, 1, good), (s.case_id, 2, blob)])
        refused_push(client, env, org, data, 400, code)


def test_reply_signed_by_another_desk_key_is_refused(client, env, org):
    s = Submitter()
    file_case(client, s, [org.desks["desk-1"]])
    foreign = make_reply(org.desks["desk-2"], s, 1)  # names desk-2's key id
    _, data = outbound_bundle(org.desks["desk-1"], replies=[(s.case_id, 1, foreign)])
    refused_push(client, env, org, data, 400, "bad_reply")


def test_what_the_server_no_longer_holds_is_acknowledged_as_a_noop_and_its_replies_dropped(client, env, org):
    """A case can vanish while the desk works offline (withdrawn, expired): acknowledging it
    or replying to it must not jam every later outbound bundle."""
    desk = org.desks["desk-1"]
    s = Submitter()
    att = attachment(10)
    file_case(client, s, [desk], [att])
    stranger = Submitter()  # never filed, as a withdrawn or expired case looks
    acks = [
        {"type": "report", "case_id": s.case_id},
        {"type": "report", "case_id": stranger.case_id},
        {"type": "followup", "case_id": s.case_id, "seq": 1},
        {"type": "attachment", "upload_id": "e" * 32},
        {"type": "withdrawal", "withdrawal_id": "d" * 32},
    ]
    replies = [(stranger.case_id, 1, make_reply(desk, stranger, 1)), (s.case_id, 1, make_reply(desk, s, 1))]
    bundle_id, data = outbound_bundle(desk, acks=acks, replies=replies)
    response = push(client, org, data)
    assert response.status_code == 200, response.text
    assert response.json() == {"bundle_id": bundle_id, "replies_stored": 1, "acks_applied": 5, "replies_dropped": 1}
    assert [row[:3] for row in env.rows("cases")] == [(s.case_id, DAY, None)]
    assert [row[:2] for row in env.rows("replies")] == [(s.case_id, 1)]


def test_an_unfiled_upload_cannot_be_acknowledged(client, env, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    loose = attachment(10, seed=3)
    upload(client, loose)
    _, data = outbound_bundle(desk, acks=[{"type": "report", "case_id": s.case_id}, {"type": "attachment", "upload_id": loose.upload_id}])
    refused_push(client, env, org, data, 404, "unknown_upload")


def test_acknowledging_twice_is_harmless(client, env, org):
    desk = org.desks["desk-1"]
    s = Submitter()
    att = attachment(10)
    file_case(client, s, [desk], [att])
    acks = [{"type": "report", "case_id": s.case_id}, {"type": "attachment", "upload_id": att.upload_id}]
    assert push(client, org, outbound_bundle(desk, acks=acks)[1]).status_code == 200
    response = push(client, org, outbound_bundle(desk, acks=acks)[1])
    assert response.status_code == 200 and response.json()["acks_applied"] == 2


def test_outbound_bundle_too_large(client, env, org, settings, clock):
    from fastapi.testclient import TestClient

    from server.app import create_app

    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    _, data = outbound_bundle(desk, replies=[(s.case_id, 1, make_reply(desk, s, 1))])
    settings.max_outbound_bundle_bytes = len(data) - 1
    with TestClient(create_app(settings, today=clock)) as small:
        refused_push(small, env, org, data, 413, "too_large")

        def pieces():
            for i in range(0, len(data), 1000):
                yield data[i : i + 1000]

        before = env.snapshot()
        response = small.post("/api/v1/desk/outbound", content=pieces(), headers=org.auth())
        assert response.status_code == 413 and error(response) == "too_large"
        assert env.snapshot() == before
    settings.max_outbound_bundle_bytes = len(data)
    with TestClient(create_app(settings, today=clock)) as exact:
        assert push(exact, org, data).status_code == 200


def test_empty_outbound_bundle_is_recorded(client, env, org):
    bundle_id, data = outbound_bundle(org.desks["desk-1"])
    response = push(client, org, data)
    assert response.status_code == 200
    assert response.json() == {"bundle_id": bundle_id, "replies_stored": 0, "acks_applied": 0, "replies_dropped": 0}
    assert env.rows("outbound_bundles") == [(bundle_id, "desk-1", DAY)]


# -- retention -----------------------------------------------------------------------------


@both_blob_stores
def test_inbound_pull_purges_orphan_uploads_after_a_day(client, env, org, clock):
    orphan = attachment(10, seed=1)
    upload(client, orphan)
    filed = attachment(10, seed=2)
    s = Submitter()
    file_case(client, s, [org.desks["desk-1"]], [filed])
    clock.advance(1)
    fresh = attachment(10, seed=3)
    upload(client, fresh)
    pull(client, org)  # a day later: the orphan is only a day old, kept
    assert {r[0] for r in env.rows("uploads")} == {orphan.upload_id, filed.upload_id, fresh.upload_id}
    clock.advance(1)
    pull(client, org)  # two days after it was made: purged, with its files
    assert {r[0] for r in env.rows("uploads")} == {filed.upload_id, fresh.upload_id}
    assert client.get(f"/api/v1/uploads/{orphan.upload_id}").status_code == 404
    assert not any(orphan.upload_id in path for path in env.blob_files())
    assert any(filed.upload_id in path for path in env.blob_files())
    assert {r[0] for r in env.rows("upload_chunks")} == {filed.upload_id, fresh.upload_id}


def test_rotated_token_replaces_the_old_one(client, env, org, settings, clock):
    from fastapi.testclient import TestClient

    from server.app import create_app
    from server.security.desk_auth import hash_token, new_token

    assert client.get("/api/v1/desk/inbound", headers=org.auth()).status_code == 200  # remembered as verified
    fresh = new_token()
    env.tokens_path.write_text(json.dumps({"desks": {**org.token_hashes, "desk-1": hash_token(fresh)}}))
    with TestClient(create_app(settings, today=clock)) as rotated:
        assert rotated.get("/api/v1/desk/inbound", headers=org.auth()).status_code == 401
        assert rotated.get("/api/v1/desk/inbound", headers={"Authorization": f"Bearer desk-1.{fresh}"}).status_code == 200
