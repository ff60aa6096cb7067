"""Expiry with a random spread, and the purge that applies it: replies past their day go;
a case past its day goes with everything it holds, but only once nothing in it waits for a
desk; the purge runs at every pull, at server start, once each new day while the server
runs, and on demand. The clock is injected (create_app(today=...))."""

import time
from collections import Counter
from datetime import date, timedelta

from fastapi.testclient import TestClient

from crypto.encoding import b64encode
from server.app import create_app
from server.retention import purge, spread_expiry

from .blobstores import both_blob_stores
from .support import ProvingClient, Submitter, attachment, file_case, make_reply, outbound_bundle, upload

START = date(2026, 11, 23)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def expiry_of_case(env, case_id: str) -> date:
    [expires] = [date.fromisoformat(row[3]) for row in env.rows("cases") if row[0] == case_id]
    return expires


def push(client, org, **kwargs) -> dict:
    _, data = outbound_bundle(org.desks["desk-1"], **kwargs)
    response = client.post("/api/v1/desk/outbound", content=data, headers={**org.auth(), "Content-Type": "application/octet-stream"})
    assert response.status_code == 200, response.text
    return response.json()


def pull(client, org) -> None:
    assert client.get("/api/v1/desk/inbound", headers=org.auth()).status_code == 200


def send_followup(client, person, desk, atts=()) -> int:
    for att in atts:
        upload(client, att)
    response = client.post(
        "/api/v1/cases/followups",
        json={"lookup": person.lookup, "envelope": b64encode(person.followup([desk], [a.descriptor() for a in atts])),
              "uploads": [a.upload_id for a in atts]},
    )
    assert response.status_code == 201, response.text
    return response.json()["seq"]


# -- the spread -------------------------------------------------------------------------------


def test_the_spread_is_uniform_within_its_bounds():
    draws = Counter(spread_expiry(START, 10, 3) for _ in range(4000))
    assert set(draws) == {START + days(10 + r) for r in range(4)}  # every value, and no other
    assert all(800 < n < 1200 for n in draws.values()), draws  # about 1000 each (p of failing < 1e-9)
    assert {spread_expiry(START, 10, 0) for _ in range(50)} == {START + days(10)}


def test_a_new_case_expires_after_its_retention_plus_a_random_spread(client, env, org, settings):
    people = [Submitter() for _ in range(40)]
    for person in people:
        file_case(client, person, [org.desks["desk-1"]])
    low = START + days(settings.case_retention_days)
    expiries = [expiry_of_case(env, p.case_id) for p in people]
    assert all(low <= e <= low + days(settings.retention_spread_days) for e in expiries)
    # 40 draws from 31 days: all on one, or on five or fewer, would be a broken spread.
    assert len(set(expiries)) > 5, expiries


def test_a_followup_or_a_stored_reply_pushes_the_case_expiry_and_a_reply_has_its_own(client, env, org, settings, clock):
    desk = org.desks["desk-1"]
    person = Submitter()
    file_case(client, person, [desk])
    first = expiry_of_case(env, person.case_id)
    spread = days(settings.retention_spread_days)

    clock.advance(100)
    send_followup(client, person, desk)
    after_followup = expiry_of_case(env, person.case_id)
    low = clock.day + days(settings.case_retention_days)
    assert low <= after_followup <= low + spread and after_followup >= first

    clock.advance(50)
    reply = make_reply(desk, person, 1)
    push(client, org, replies=[(person.case_id, 1, reply)])
    after_reply = expiry_of_case(env, person.case_id)
    low = clock.day + days(settings.case_retention_days)
    assert low <= after_reply <= low + spread and after_reply >= after_followup
    [(_, _, _, day, reply_expires)] = env.rows("replies")
    low = clock.day + days(settings.reply_retention_days)
    assert day == clock.day.isoformat() and low <= date.fromisoformat(reply_expires) <= low + spread

    # Re-sending the same reply stores nothing and pushes nothing.
    clock.advance(10)
    push(client, org, replies=[(person.case_id, 1, reply)])
    assert expiry_of_case(env, person.case_id) == after_reply


def test_an_expiry_never_moves_earlier(client, env, org, settings):
    """With the spread, today + retention + r can be earlier than the day already set."""
    desk = org.desks["desk-1"]
    person = Submitter()
    file_case(client, person, [desk])
    latest = expiry_of_case(env, person.case_id)
    for _ in range(15):
        send_followup(client, person, desk)
        now = expiry_of_case(env, person.case_id)
        assert now >= latest
        latest = now


# -- the purge rules --------------------------------------------------------------------------


def test_replies_expire_on_their_own_and_are_kept_through_their_day(client, env, org, ctx, settings):
    desk = org.desks["desk-1"]
    person = Submitter()
    file_case(client, person, [desk])
    push(client, org, acks=[{"type": "report", "case_id": person.case_id}], replies=[(person.case_id, 1, make_reply(desk, person, 1))])
    [(_, _, _, _, expires)] = env.rows("replies")
    expires = date.fromisoformat(expires)
    assert purge(ctx.db, ctx.blobs, ctx.settings, expires).replies == 0
    assert env.count("replies") == 1
    purged = purge(ctx.db, ctx.blobs, ctx.settings, expires + days(1))
    assert purged.replies == 1 and purged.cases == 0
    assert env.count("replies") == 0 and env.count("cases") == 1  # the case lives longer


@both_blob_stores
def test_an_expired_case_goes_only_once_nothing_in_it_waits_for_a_desk(client, env, org, ctx, clock):
    desk = org.desks["desk-1"]
    person, fresh = Submitter(), Submitter()
    report_file, followup_file = attachment(10, seed=1), attachment(300_000, seed=2)
    file_case(client, person, [desk], [report_file])
    seq = send_followup(client, person, desk, [followup_file])
    push(client, org, replies=[(person.case_id, 1, make_reply(desk, person, 1))])
    expires = expiry_of_case(env, person.case_id)
    clock.day = expires + days(1)
    file_case(client, fresh, [desk])  # filed today: not expired

    def still_there() -> bool:
        pull(client, org)  # every pull purges
        return person.case_id in {row[0] for row in env.rows("cases")}

    # The report, then the follow-up, then an attachment still wait for the desk: kept.
    assert still_there()
    push(client, org, acks=[{"type": "report", "case_id": person.case_id}])
    assert still_there()
    push(client, org, acks=[{"type": "followup", "case_id": person.case_id, "seq": seq}])
    assert still_there()
    push(client, org, acks=[{"type": "attachment", "upload_id": report_file.upload_id}])
    assert still_there()
    assert followup_file.upload_id in "".join(env.blob_files())
    # The last attachment acknowledged: the case goes with all its rows and files.
    push(client, org, acks=[{"type": "attachment", "upload_id": followup_file.upload_id}])
    assert not still_there()
    assert {row[0] for row in env.rows("cases")} == {fresh.case_id}
    for table in ("followups", "uploads", "upload_chunks", "replies"):
        assert all(person.case_id not in repr(row) for row in env.rows(table)), table
    assert env.count("uploads") == 0 and env.blob_files() == {}


def test_a_case_waiting_for_a_desk_is_kept_whatever_its_age(client, env, org, ctx):
    person = Submitter()
    file_case(client, person, [org.desks["desk-1"]], [attachment(10)])
    before = env.snapshot()
    purged = purge(ctx.db, ctx.blobs, ctx.settings, START + days(50 * 365))
    assert (purged.cases, purged.replies) == (0, 0)
    assert env.snapshot() == before


def test_a_case_is_kept_through_its_expiry_day(client, env, org, ctx):
    person = Submitter()
    file_case(client, person, [org.desks["desk-1"]])
    push(client, org, acks=[{"type": "report", "case_id": person.case_id}])
    expires = expiry_of_case(env, person.case_id)
    assert purge(ctx.db, ctx.blobs, ctx.settings, expires).cases == 0
    assert purge(ctx.db, ctx.blobs, ctx.settings, expires + days(1)).cases == 1
    assert env.count("cases") == 0
    found = client.post("/api/v1/cases/lookup", json={"lookup": person.lookup})
    assert found.status_code == 200 and found.json()["found"] is False


@both_blob_stores
def test_a_purge_that_rolls_back_removes_no_file(client, env, org, ctx):
    from server.retention import purge_expired_cases

    desk = org.desks["desk-1"]
    person = Submitter()
    att = attachment(10)
    file_case(client, person, [desk], [att])
    push(client, org, acks=[{"type": "report", "case_id": person.case_id}])
    push(client, org, acks=[{"type": "attachment", "upload_id": att.upload_id}])
    # A chunk file a crash left behind: a purge that rolls back keeps it with its rows.
    ctx.blobs.put_chunk(att.upload_id, 0, att.chunks[0])
    before = env.snapshot()
    try:
        with ctx.db.write() as session:
            assert purge_expired_cases(session, ctx.blobs, START + days(1000)) == [person.case_id]
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert env.snapshot() == before


# -- when the purge runs ----------------------------------------------------------------------


def test_the_purge_runs_at_server_start_and_again_each_new_day(settings, env, org, clock):
    first = create_app(settings, today=clock)
    people = [Submitter(), Submitter()]
    with ProvingClient(first) as client:
        for person in people:
            file_case(client, person, [org.desks["desk-1"]])
        push(client, org, acks=[{"type": "report", "case_id": p.case_id} for p in people])
        expiries = sorted(expiry_of_case(env, p.case_id) for p in people)
    first.state.ctx.db.dispose()
    if expiries[0] == expiries[1]:
        # Both fall on one day (1 in 31): move one later so the day-change step has work.
        with env.engine().begin() as conn:
            conn.exec_driver_sql("UPDATE cases SET expires_day = ? WHERE case_id = ?",
                                 ((expiries[1] + days(5)).isoformat(), people[1].case_id))
        expiries[1] += days(5)

    clock.day = expiries[0] + days(1)
    app = create_app(settings, today=clock, purge_check_seconds=0.02)
    with TestClient(app):
        # At start, before any request: the first case is past its day, the second is not.
        assert env.count("cases") == 1
        # The server runs on; on a new day the purge runs without any request.
        clock.day = expiries[1] + days(1)
        deadline = time.monotonic() + 10
        while env.count("cases") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert env.count("cases") == 0
