"""POST /api/v1/cases, /api/v1/cases/lookup and /api/v1/cases/followups: happy paths and
every refusal, each with its stable code and nothing stored."""

import base64

import pytest

from crypto.desk import DeskKeys
from crypto.encoding import b64encode
from crypto.envelope import open_envelope
from server.settings import MAX_ENVELOPE_BYTES

from .support import DAY, Submitter, attachment, file_case, upload


def error(response) -> str:
    return response.json()["error"]["code"]


def post_case(client, submitter, envelope: bytes, uploads=()):
    return client.post(
        "/api/v1/cases", json={"lookup": submitter.lookup, "envelope": b64encode(envelope), "uploads": list(uploads)}
    )


def post_followup(client, submitter, envelope: bytes, uploads=()):
    return client.post(
        "/api/v1/cases/followups",
        json={"lookup": submitter.lookup, "envelope": b64encode(envelope), "uploads": list(uploads)},
    )


def refused(client, env, method_path: str, json_body=None, *, content=None, status: int, code: str):
    before = env.snapshot()
    if content is not None:
        response = client.post(method_path, content=content, headers={"Content-Type": "application/json"})
    else:
        response = client.post(method_path, json=json_body)
    assert response.status_code == status, response.text
    assert error(response) == code, response.text
    assert set(response.json()) == {"error"} and set(response.json()["error"]) == {"code", "message"}
    assert env.snapshot() == before
    return response


# -- reports -------------------------------------------------------------------------------


def test_report_is_filed_with_its_uploads(client, env, org):
    desk = org.desks["desk-1"]
    submitter = Submitter()
    atts = [attachment(1000, seed=1), attachment(600_000, seed=2)]
    result = file_case(client, submitter, [desk, org.desks["desk-2"]], atts)
    assert result == {"case_id": submitter.case_id, "day": DAY}
    [(case_id, day, stored, _expires)] = env.rows("cases")
    assert case_id == submitter.case_id and day == DAY
    # The stored bytes are the envelope a desk can open; the server never could.
    opened = open_envelope(stored, desk.public, desk.box_secret)
    opened.verify(submitter.keys.sign_public)
    assert opened.body["case_id"] == submitter.case_id
    filed = {row[0]: row[3:5] for row in env.rows("uploads")}
    assert filed == {a.upload_id: (submitter.case_id, None) for a in atts}


def test_report_without_uploads_field(client, env, org):
    submitter = Submitter()
    env_bytes = submitter.report([org.desks["desk-1"]])
    response = client.post("/api/v1/cases", json={"lookup": submitter.lookup, "envelope": b64encode(env_bytes)})
    assert response.status_code == 201
    assert env.count("cases") == 1


def test_case_id_is_a_hash_of_the_lookup_not_the_lookup(client, env, org):
    submitter = Submitter()
    file_case(client, submitter, [org.desks["desk-1"]])
    dump = repr([env.rows(t) for t in ("cases", "uploads")])
    assert submitter.keys.lookup.hex() not in dump and submitter.lookup not in dump


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"lookup": "not base64!", "envelope": "AAAA"}, "bad_lookup"),
        ({"lookup": b64encode(bytes(31)), "envelope": "AAAA"}, "bad_lookup"),
        ({"lookup": b64encode(bytes(33)), "envelope": "AAAA"}, "bad_lookup"),
        ({"lookup": "", "envelope": "AAAA"}, "bad_lookup"),
        ({"lookup": b64encode(bytes(32)).rstrip("="), "envelope": "AAAA"}, "bad_lookup"),
    ],
)
def test_bad_lookup(client, env, body, code):
    refused(client, env, "/api/v1/cases", body, status=400, code=code)
    refused(client, env, "/api/v1/cases/lookup", {"lookup": body["lookup"]}, status=400, code=code)
    refused(client, env, "/api/v1/cases/followups", body, status=400, code=code)


def test_lookup_in_base64url_is_refused(client, env):
    lookup = base64.urlsafe_b64encode(bytes([0xFB] * 32)).decode()
    assert "-" in lookup or "_" in lookup
    refused(client, env, "/api/v1/cases/lookup", {"lookup": lookup}, status=400, code="bad_lookup")


@pytest.mark.parametrize(
    "content",
    [b'{"lookup": "x", "envelope": ', b"not json at all", b"", b"\xff\xfe", b'["lookup"]', b"null"],
)
def test_malformed_json(client, env, content):
    for path in ("/api/v1/cases", "/api/v1/cases/lookup", "/api/v1/cases/followups"):
        refused(client, env, path, content=content, status=422, code="bad_request")


@pytest.mark.parametrize(
    "body",
    [
        {"envelope": "AAAA"},
        {"lookup": 5, "envelope": "AAAA"},
        {"lookup": None, "envelope": "AAAA"},
        {"lookup": "AAAA", "envelope": ["AAAA"]},
        {"lookup": "AAAA", "envelope": "AAAA", "uploads": "abc"},
        {"lookup": "AAAA", "envelope": "AAAA", "uploads": [1]},
        {"lookup": "AAAA", "envelope": "AAAA", "ip": "10.0.0.1"},
    ],
)
def test_wrong_field_types_are_bad_request(client, env, body):
    refused(client, env, "/api/v1/cases", body, status=422, code="bad_request")


def test_bad_base64_envelope(client, env):
    s = Submitter()
    for text in ("!!!!", "QUJD====", "QR==", "QUJ", " QUJD"):
        refused(client, env, "/api/v1/cases", {"lookup": s.lookup, "envelope": text}, status=400, code="bad_envelope")


@pytest.mark.parametrize(
    ("mangle", "code"),
    [
        (lambda e: b"XXXX" + e[4:], "bad_envelope"),
        (lambda e: e[:4] + bytes([2]) + e[5:], "unsupported_version"),
        (lambda e: e[:5] + bytes([9]) + e[6:], "bad_envelope"),
        (lambda e: e[:6] + bytes([0]) + e[7:], "bad_recipients"),
        (lambda e: e[:-1], "bad_envelope"),
        (lambda e: e + b"\0", "bad_envelope"),
        (lambda e: e[:6], "bad_envelope"),
        (lambda e: b"", "bad_envelope"),
    ],
)
def test_malformed_envelope(client, env, org, mangle, code):
    s = Submitter()
    envelope = mangle(s.report([org.desks["desk-1"]]))
    refused(client, env, "/api/v1/cases", {"lookup": s.lookup, "envelope": b64encode(envelope)}, status=400, code=code)


def test_duplicate_recipient_is_refused(client, env, org):
    s = Submitter()
    one = s.report([org.desks["desk-1"]])  # sealing refuses a desk twice, so the entry is copied by hand
    envelope = one[:6] + bytes([2]) + one[7:95] + one[7:95] + one[95:]
    refused(client, env, "/api/v1/cases", {"lookup": s.lookup, "envelope": b64encode(envelope)}, status=400, code="bad_recipients")


def test_envelope_of_wrong_kind(client, env, org):
    s = Submitter()
    file_case(client, s, [org.desks["desk-1"]])
    followup = s.followup([org.desks["desk-1"]])
    other = Submitter()
    refused(client, env, "/api/v1/cases", {"lookup": other.lookup, "envelope": b64encode(followup)}, status=400, code="wrong_kind")
    report = s.report([org.desks["desk-1"]])
    refused(client, env, "/api/v1/cases/followups", {"lookup": s.lookup, "envelope": b64encode(report)}, status=400, code="wrong_kind")


def test_envelope_with_an_unknown_recipient(client, env, org):
    s = Submitter()
    stranger = DeskKeys.generate("desk-1", "not in the manifest")
    for desks in ([stranger], [org.desks["desk-1"], stranger], [org.outsider]):
        body = {"lookup": s.lookup, "envelope": b64encode(s.report(desks))}
        refused(client, env, "/api/v1/cases", body, status=400, code="unknown_recipient")


def test_oversized_envelope(client, env, org):
    s = Submitter()
    real = s.report([org.desks["desk-1"]])
    # Just over the limit, well-formed base64: refused as too large.
    big = real + bytes(MAX_ENVELOPE_BYTES + 1 - len(real))
    refused(client, env, "/api/v1/cases", {"lookup": s.lookup, "envelope": b64encode(big)}, status=413, code="too_large")
    # A request body over the JSON cap is refused before it is parsed.
    huge = b64encode(bytes(2 * MAX_ENVELOPE_BYTES))
    refused(client, env, "/api/v1/cases", {"lookup": s.lookup, "envelope": huge}, status=413, code="too_large")
    refused(client, env, "/api/v1/cases/lookup", {"lookup": huge}, status=413, code="too_large")


def test_largest_envelope_is_accepted(client, env, org):
    """A 1 MiB-bucket envelope with all 16 recipient slots still fits under the limits."""
    s = Submitter()
    desks = [org.desks["desk-1"]]
    envelope = s.report(desks, text="x" * (1024 * 1024 - 4096))
    assert len(envelope) > 1024 * 1024
    assert post_case(client, s, envelope).status_code == 201


def test_json_body_cap_without_content_length(client, env, org):
    s = Submitter()
    huge = ('{"lookup": "' + s.lookup + '", "envelope": "' + "A" * (3 * MAX_ENVELOPE_BYTES) + '"}').encode()

    def pieces():
        for i in range(0, len(huge), 65536):
            yield huge[i : i + 65536]

    before = env.snapshot()
    response = client.post("/api/v1/cases", content=pieces(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and error(response) == "too_large"
    assert env.snapshot() == before


def test_unknown_upload(client, env, org):
    s = Submitter()
    body = {"lookup": s.lookup, "envelope": b64encode(s.report([org.desks["desk-1"]])), "uploads": ["0" * 32]}
    refused(client, env, "/api/v1/cases", body, status=404, code="unknown_upload")
    body["uploads"] = ["not-hex"]
    refused(client, env, "/api/v1/cases", body, status=404, code="unknown_upload")


def test_incomplete_upload(client, env, org):
    s = Submitter()
    att = attachment(3 * 262144, seed=3)
    upload(client, att, skip=(1,))
    body = {"lookup": s.lookup, "envelope": b64encode(s.report([org.desks["desk-1"]], [att.descriptor()])), "uploads": [att.upload_id]}
    refused(client, env, "/api/v1/cases", body, status=400, code="upload_incomplete")


def test_upload_reused_by_a_second_case(client, env, org):
    att = attachment(500)
    file_case(client, Submitter(), [org.desks["desk-1"]], [att])
    second = Submitter()
    body = {"lookup": second.lookup, "envelope": b64encode(second.report([org.desks["desk-1"]], [att.descriptor()])), "uploads": [att.upload_id]}
    refused(client, env, "/api/v1/cases", body, status=409, code="upload_in_use")


def test_upload_named_twice(client, env, org):
    att = attachment(500)
    upload(client, att)
    s = Submitter()
    body = {"lookup": s.lookup, "envelope": b64encode(s.report([org.desks["desk-1"]])), "uploads": [att.upload_id, att.upload_id]}
    refused(client, env, "/api/v1/cases", body, status=409, code="upload_in_use")


def test_one_bad_upload_files_none(client, env, org):
    good, partial = attachment(500, seed=1), attachment(300_000, seed=2)
    upload(client, good)
    upload(client, partial, skip=(1,))
    s = Submitter()
    body = {
        "lookup": s.lookup,
        "envelope": b64encode(s.report([org.desks["desk-1"]])),
        "uploads": [good.upload_id, partial.upload_id],
    }
    refused(client, env, "/api/v1/cases", body, status=400, code="upload_incomplete")
    assert all(row[3] is None for row in env.rows("uploads"))


def test_too_many_uploads(client, env, org):
    s = Submitter()
    body = {"lookup": s.lookup, "envelope": b64encode(s.report([org.desks["desk-1"]])), "uploads": [f"{i:032x}" for i in range(21)]}
    refused(client, env, "/api/v1/cases", body, status=400, code="too_many_uploads")
    file_case(client, s, [org.desks["desk-1"]])
    body["envelope"] = b64encode(s.followup([org.desks["desk-1"]]))
    refused(client, env, "/api/v1/cases/followups", body, status=400, code="too_many_uploads")


def test_duplicate_case(client, env, org):
    s = Submitter()
    file_case(client, s, [org.desks["desk-1"]])
    att = attachment(100)
    upload(client, att)
    body = {"lookup": s.lookup, "envelope": b64encode(s.report([org.desks["desk-1"]])), "uploads": [att.upload_id]}
    refused(client, env, "/api/v1/cases", body, status=409, code="case_exists")


# -- lookup --------------------------------------------------------------------------------


def test_lookup_of_a_new_case(client, org):
    s = Submitter()
    file_case(client, s, [org.desks["desk-1"]])
    response = client.post("/api/v1/cases/lookup", json={"lookup": s.lookup})
    assert response.status_code == 200
    view = response.json()
    assert set(view.pop("pad")) == {"0"}
    assert view == {"found": True, "case_id": s.case_id, "day": DAY, "followups": 0, "replies": []}


def test_lookup_of_an_unknown_case(client, env, org):
    # 200, like a found case (tests/api/test_api_lookup.py compares sizes and times), and
    # nothing stored.
    file_case(client, Submitter(), [org.desks["desk-1"]])
    stranger = Submitter()
    before = env.snapshot()
    response = client.post("/api/v1/cases/lookup", json={"lookup": stranger.lookup})
    assert response.status_code == 200, response.text
    view = response.json()
    del view["pad"]
    assert view == {"found": False, "case_id": stranger.case_id, "day": DAY, "followups": 0, "replies": []}
    assert env.snapshot() == before


def test_lookup_token_only_in_post_bodies(client, org):
    s = Submitter()
    file_case(client, s, [org.desks["desk-1"]])
    assert client.get("/api/v1/cases/lookup", params={"lookup": s.lookup}).status_code in (404, 405)


# -- follow-ups ----------------------------------------------------------------------------


def test_followups_are_numbered_and_counted(client, env, org, clock):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    att = attachment(70_000, seed=5)
    upload(client, att)
    first = post_followup(client, s, s.followup([desk], [att.descriptor()]), [att.upload_id])
    assert first.status_code == 201 and first.json() == {"seq": 1, "day": DAY}
    clock.advance(1)
    second = post_followup(client, s, s.followup([desk, org.desks["desk-2"]]))
    assert second.status_code == 201 and second.json() == {"seq": 2, "day": "2026-11-24"}
    assert client.post("/api/v1/cases/lookup", json={"lookup": s.lookup}).json()["followups"] == 2
    rows = env.rows("followups")
    assert [(r[0], r[1], r[2]) for r in rows] == [(s.case_id, 1, DAY), (s.case_id, 2, "2026-11-24")]
    opened = open_envelope(rows[0][3], desk.public, desk.box_secret)
    opened.verify(s.keys.sign_public)
    assert [r[3:5] for r in env.rows("uploads")] == [(s.case_id, 1)]


def test_followup_for_an_unknown_case(client, env, org):
    s = Submitter()
    att = attachment(100)
    upload(client, att)
    body = {"lookup": s.lookup, "envelope": b64encode(s.followup([org.desks["desk-1"]])), "uploads": [att.upload_id]}
    refused(client, env, "/api/v1/cases/followups", body, status=404, code="unknown_case")


@pytest.mark.parametrize("problem", ["unknown", "incomplete", "in_use", "recipient", "too_large", "bad_base64"])
def test_followup_refusals_store_nothing(client, env, org, problem):
    desk = org.desks["desk-1"]
    s = Submitter()
    file_case(client, s, [desk])
    att = attachment(300_000, seed=9)
    uploads: list[str] = []
    envelope = b64encode(s.followup([desk]))
    expected = {
        "unknown": (404, "unknown_upload"),
        "incomplete": (400, "upload_incomplete"),
        "in_use": (409, "upload_in_use"),
        "recipient": (400, "unknown_recipient"),
        "too_large": (413, "too_large"),
        "bad_base64": (400, "bad_envelope"),
    }[problem]
    if problem == "unknown":
        uploads = ["f" * 32]
    elif problem == "incomplete":
        uploads = [upload(client, att, skip=(0,))]
    elif problem == "in_use":
        file_case(client, Submitter(), [desk], [att])
        uploads = [att.upload_id]
    elif problem == "recipient":
        envelope = b64encode(s.followup([org.outsider]))
    elif problem == "too_large":
        envelope = b64encode(bytes(MAX_ENVELOPE_BYTES + 3))
    else:
        envelope = "QR=="
    refused(client, env, "/api/v1/cases/followups", {"lookup": s.lookup, "envelope": envelope, "uploads": uploads},
            status=expected[0], code=expected[1])


def test_validation_errors_do_not_echo_the_request(client, env):
    marker = "MARKER-7f3a9c-do-not-echo"
    for body in (
        {"lookup": [marker], "envelope": marker},
        {"lookup": "AAAA", "envelope": "AAAA", marker: marker},
        {"lookup": {"x": marker}},
    ):
        response = client.post("/api/v1/cases", json=body)
        assert response.status_code == 422 and error(response) == "bad_request"
        assert marker not in response.text
