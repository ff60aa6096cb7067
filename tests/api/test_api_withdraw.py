"""Withdrawal: POST /api/v1/cases/withdraw deletes the case and everything it holds in one
transaction, keeps only the sealed withdrawal under a random id that names no case, hands
it to the desk in the next inbound bundle, and forgets it once the desk acknowledges it."""

import pytest

from crypto.encoding import b64decode, b64encode
from crypto.envelope import open_envelope
from crypto.kdf import case_id as case_id_of
from crypto.report import parse_followup_update

from .blobstores import both_blob_stores
from .support import DAY, Submitter, attachment, file_case, make_reply, open_inbound, outbound_bundle, upload


def error(response) -> str:
    return response.json()["error"]["code"]


def pull(client, org):
    response = client.get("/api/v1/desk/inbound", headers=org.auth())
    assert response.status_code == 200, response.text
    return open_inbound(response.content)


def push(client, org, data: bytes):
    response = client.post("/api/v1/desk/outbound", content=data, headers={**org.auth(), "Content-Type": "application/octet-stream"})
    assert response.status_code == 200, response.text
    return response.json()


def withdrawal(submitter: Submitter, desks) -> bytes:
    """The envelope the browser seals to withdraw: a follow-up whose body has withdraw: true."""
    from crypto import envelope

    body = {"v": 1, "kind": "followup", "case_id": submitter.case_id, "id": "cd" * 16, "day": DAY,
            "text": "", "attachments": [], "withdraw": True}
    return envelope.seal("followup", body, submitter.keys.sign_secret, tuple(d.public for d in desks))


def withdraw(client, submitter: Submitter, sealed: bytes):
    return client.post("/api/v1/cases/withdraw", json={"lookup": submitter.lookup, "envelope": b64encode(sealed)})


def followup(client, submitter: Submitter, desks, atts=()):
    for att in atts:
        upload(client, att)
    sealed = submitter.followup(desks, [a.descriptor() for a in atts])
    return client.post(
        "/api/v1/cases/followups",
        json={"lookup": submitter.lookup, "envelope": b64encode(sealed), "uploads": [a.upload_id for a in atts]},
    )


@both_blob_stores
def test_withdrawal_deletes_the_case_and_all_it_holds_at_once(client, env, org, ctx):
    desk = org.desks["desk-1"]
    person, other = Submitter(), Submitter()
    report_file, followup_file = attachment(300_000, seed=1), attachment(10, seed=2)
    file_case(client, person, [desk], [report_file])
    assert followup(client, person, [desk], [followup_file]).status_code == 201
    push(client, org, outbound_bundle(desk, replies=[(person.case_id, 1, make_reply(desk, person, 1))])[1])
    kept_file = attachment(10, seed=3)
    file_case(client, other, [desk], [kept_file])
    others = {t: [r for r in env.rows(t) if person.case_id not in r] for t in ("cases", "followups", "uploads", "replies")}

    sealed = withdrawal(person, [desk])
    response = withdraw(client, person, sealed)
    assert response.status_code == 200, response.text
    assert response.json() == {"day": DAY}

    # Nothing of the case is left: not its rows, not its chunk rows, not its chunk files.
    for table, rows in others.items():
        assert env.rows(table) == rows, table
    assert [r[0] for r in env.rows("upload_chunks")] == [kept_file.upload_id]
    assert env.blob_files() and all(kept_file.upload_id in path for path in env.blob_files())
    assert ctx.blobs.upload_ids() == [kept_file.upload_id]
    # Only the sealed withdrawal stays, under a fresh id, with nothing that names the case.
    [(withdrawal_id, day, stored)] = env.rows("withdrawals")
    assert stored == sealed and day == DAY
    assert len(withdrawal_id) == 32 and withdrawal_id != person.case_id
    assert person.case_id not in repr(env.rows("withdrawals")) and person.lookup not in repr(env.rows("withdrawals"))

    # A lookup finds nothing; a follow-up or a second withdrawal meets an unknown case.
    found = client.post("/api/v1/cases/lookup", json={"lookup": person.lookup})
    assert found.status_code == 200 and found.json()["found"] is False and found.json()["replies"] == []
    assert error(followup(client, person, [desk])) == "unknown_case"
    again = withdraw(client, person, sealed)
    assert again.status_code == 404 and error(again) == "unknown_case"
    assert env.count("withdrawals") == 1


def test_withdrawing_an_unknown_case_is_404_and_stores_nothing(client, env, org):
    stranger = Submitter()
    before = env.snapshot()
    response = withdraw(client, stranger, withdrawal(stranger, [org.desks["desk-1"]]))
    assert response.status_code == 404 and error(response) == "unknown_case"
    assert env.snapshot() == before


@pytest.mark.parametrize(
    "case",
    ["report_envelope", "not_base64", "garbage", "outsider", "bad_lookup", "extra_field", "uploads"],
)
def test_withdrawal_framing_is_checked_like_a_followup(client, env, org, case):
    desk = org.desks["desk-1"]
    person = Submitter()
    file_case(client, person, [desk])
    body = {"lookup": person.lookup, "envelope": b64encode(withdrawal(person, [desk]))}
    expected = {
        "report_envelope": (400, "wrong_kind"),
        "not_base64": (400, "bad_envelope"),
        "garbage": (400, "bad_envelope"),
        "outsider": (400, "unknown_recipient"),
        "bad_lookup": (400, "bad_lookup"),
        "extra_field": (422, "bad_request"),
        "uploads": (422, "bad_request"),  # a withdrawal files nothing
    }[case]
    if case == "report_envelope":
        body["envelope"] = b64encode(person.report([desk]))
    elif case == "not_base64":
        body["envelope"] = "not base64!"
    elif case == "garbage":
        body["envelope"] = b64encode(b"NOPE" + bytes(200))
    elif case == "outsider":
        body["envelope"] = b64encode(withdrawal(person, [org.outsider]))
    elif case == "bad_lookup":
        body["lookup"] = b64encode(b"short")
    elif case == "extra_field":
        body["case_id"] = person.case_id
    else:
        body["uploads"] = []
    before = env.snapshot()
    response = client.post("/api/v1/cases/withdraw", json=body)
    assert (response.status_code, error(response)) == expected, response.text
    assert env.snapshot() == before


def test_the_desk_gets_the_withdrawal_unlinked_and_its_acknowledgement_deletes_it(client, env, org):
    desk = org.desks["desk-1"]
    person = Submitter()
    file_case(client, person, [desk], [attachment(10)])
    sealed = withdrawal(person, [desk])
    assert withdraw(client, person, sealed).status_code == 200

    bundle, source = pull(client, org)
    [item] = bundle.header["items"]  # the report and its attachment went with the case
    assert set(item) == {"type", "withdrawal_id", "blob"} and item["type"] == "withdrawal"
    assert bundle.read_blob(source, item["blob"]) == sealed
    # Only the desk can tell which case it withdraws: the case id is inside, signed.
    opened = open_envelope(bundle.read_blob(source, item["blob"]), desk.public, desk.box_secret)
    opened.verify(person.keys.sign_public)
    assert opened.kind == "followup" and opened.body["case_id"] == person.case_id
    assert parse_followup_update(opened.body).withdraw is True
    assert person.case_id not in repr({k: v for k, v in bundle.header.items() if k != "blobs"})

    ack = {"type": "withdrawal", "withdrawal_id": item["withdrawal_id"]}
    assert push(client, org, outbound_bundle(desk, acks=[ack])[1])["acks_applied"] == 1
    assert env.count("withdrawals") == 0
    assert push(client, org, outbound_bundle(desk, acks=[ack])[1])["acks_applied"] == 1  # again: a no-op
    assert [i for i in pull(client, org)[0].header["items"]] == []


def test_a_malformed_withdrawal_ack_is_refused(client, env, org):
    desk = org.desks["desk-1"]
    before = env.snapshot()
    _, data = outbound_bundle(desk, acks=[{"type": "withdrawal", "withdrawal_id": "XYZ"}])
    response = client.post("/api/v1/desk/outbound", content=data, headers={**org.auth(), "Content-Type": "application/octet-stream"})
    assert response.status_code == 400 and error(response) == "bad_bundle"
    assert env.snapshot() == before


def test_a_reply_the_desk_wrote_before_it_learnt_of_the_withdrawal_is_dropped(client, env, org):
    desk = org.desks["desk-1"]
    person = Submitter()
    file_case(client, person, [desk])
    assert withdraw(client, person, withdrawal(person, [desk])).status_code == 200
    acks = [{"type": "report", "case_id": person.case_id}]
    applied = push(client, org, outbound_bundle(desk, acks=acks, replies=[(person.case_id, 1, make_reply(desk, person, 1))])[1])
    assert applied["replies_stored"] == 0 and applied["replies_dropped"] == 1 and applied["acks_applied"] == 1
    assert env.count("replies") == 0 and env.count("cases") == 0


@pytest.mark.sqlite_only(reason="scans the SQLite database file; tests/api/test_api_postgresql.py has PostgreSQL's counterpart")
def test_nothing_of_a_withdrawn_case_is_left_readable_in_the_database_file(client, env, org):
    """Deleted rows are overwritten (SQLite secure_delete), not left in free pages."""
    desk = org.desks["desk-1"]
    person = Submitter()
    sealed_report = person.report([desk], text="x" * 5000)
    response = client.post("/api/v1/cases", json={"lookup": person.lookup, "envelope": b64encode(sealed_report)})
    assert response.status_code == 201
    assert withdraw(client, person, withdrawal(person, [desk])).status_code == 200
    with env.engine().connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    data = env.db_path.read_bytes()
    samples = [sealed_report[i : i + 32] for i in range(200, len(sealed_report) - 32, 997)]
    assert samples and not any(sample in data for sample in samples)
    assert person.case_id.encode() not in data and person.case_id == case_id_of(b64decode(person.lookup))
