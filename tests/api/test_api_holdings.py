"""`quietline server holdings [--json]` and `quietline server purge`, run as the real
commands (CliRunner on quietline_cli.main) against a database filled through the API on
days set relative to the real today, which is the day the commands count from."""

import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from crypto.encoding import b64encode
from quietline_cli import main
from server.ids import utc_today

from .support import Submitter, attachment, file_case, make_reply, outbound_bundle, upload

CHUNK = 262_161


@pytest.fixture
def run(env, monkeypatch):
    monkeypatch.setenv("QUIETLINE_DATABASE_URL", env.database_url)
    monkeypatch.setenv("QUIETLINE_BLOB_DIR", str(env.blob_dir))

    def invoke(*args: str):
        return CliRunner().invoke(main, ["server", *args], catch_exceptions=False)

    return invoke


def push(client, org, **kwargs) -> None:
    _, data = outbound_bundle(org.desks["desk-1"], **kwargs)
    response = client.post("/api/v1/desk/outbound", content=data, headers={**org.auth(), "Content-Type": "application/octet-stream"})
    assert response.status_code == 200, response.text


def test_holdings_counts_what_the_server_holds_by_age(client, env, org, clock, run):
    desk = org.desks["desk-1"]
    today = utc_today()
    old, waiting, gone = Submitter(), Submitter(), Submitter()

    clock.day = today - timedelta(days=100)  # imported long ago: rows only, no ciphertext
    old_file = attachment(300_000, seed=1)  # two chunks
    file_case(client, old, [desk], [old_file])
    push(client, org, acks=[{"type": "report", "case_id": old.case_id}, {"type": "attachment", "upload_id": old_file.upload_id}])

    clock.day = today - timedelta(days=40)  # a report no desk has pulled yet, with a file
    file_case(client, waiting, [desk], [attachment(10, seed=2)])

    clock.day = today - timedelta(days=10)  # and its follow-up
    sealed = waiting.followup([desk])
    assert client.post("/api/v1/cases/followups", json={"lookup": waiting.lookup, "envelope": b64encode(sealed)}).status_code == 201

    clock.day = today - timedelta(days=3)  # a reply to the old case
    push(client, org, replies=[(old.case_id, 1, make_reply(desk, old, 1))])

    clock.day = today  # an upload not filed yet, and a case withdrawn
    upload(client, attachment(10, seed=3))
    file_case(client, gone, [desk])
    assert client.post("/api/v1/cases/withdraw", json={"lookup": gone.lookup, "envelope": b64encode(gone.followup([desk]))}).status_code == 200

    with env.engine().begin() as conn:  # the old case's expiry comes in ten days
        conn.execute(text("UPDATE cases SET expires_day = :day WHERE case_id = :case_id"),
                     {"day": today + timedelta(days=10), "case_id": old.case_id})

    result = run("holdings", "--json")
    assert result.exit_code == 0, result.output
    held = json.loads(result.output)
    assert held["day"] == today.isoformat()
    assert held["buckets"] == ["today", "1-7 days", "8-30 days", "31-90 days", "91-365 days", "older"]

    def only(bucket: str, value: int) -> dict:
        return {**{b: 0 for b in held["buckets"]}, bucket: value, "total": value}

    assert held["holdings"] == {
        "cases": {**only("91-365 days", 1), "31-90 days": 1, "total": 2},
        "reports_waiting": only("31-90 days", 1),
        "followups_waiting": only("8-30 days", 1),
        "uploads_filed_waiting": only("31-90 days", 1),
        "uploads_filed_imported": only("91-365 days", 1),
        "uploads_unfiled": only("today", 1),
        "attachment_bytes": {**only("today", CHUNK), "31-90 days": CHUNK, "total": 2 * CHUNK},
        "replies": only("1-7 days", 1),
        "withdrawals_waiting": only("today", 1),
        "cases_expiring_30_days": only("91-365 days", 1),
    }

    table = run("holdings")
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert any("today" in line and "older" in line and "total" in line for line in lines)
    [bytes_line] = [line for line in lines if "attachment bytes" in line]
    assert bytes_line.split("│")[-2].strip() == f"{2 * CHUNK:,}"
    [withdrawals_line] = [line for line in lines if "withdrawals waiting" in line]
    assert [cell.strip() for cell in withdrawals_line.split("│")[2:-1]] == ["1", "0", "0", "0", "0", "0", "1"]


def test_an_empty_server_holds_nothing(client, run):
    held = json.loads(run("holdings", "--json").output)
    assert all(row["total"] == 0 for row in held["holdings"].values())


def test_purge_on_demand_applies_the_retention_rules(client, env, org, clock, run):
    desk = org.desks["desk-1"]
    today = utc_today()
    idle, waiting = Submitter(), Submitter()
    clock.day = today - timedelta(days=500)  # long enough ago that any spread has passed
    file_case(client, idle, [desk])
    file_case(client, waiting, [desk])
    push(client, org, acks=[{"type": "report", "case_id": idle.case_id}])
    assert all(date.fromisoformat(row[3]) < today for row in env.rows("cases"))

    result = run("purge")
    assert result.exit_code == 0, result.output
    assert "purged 1 expired case(s)" in result.output
    assert [row[0] for row in env.rows("cases")] == [waiting.case_id]  # its report still waits


def test_the_commands_refuse_a_database_not_at_the_latest_migration(client, env, run):
    from server.storage.migrate import downgrade

    client.app.state.ctx.db.dispose()
    downgrade(env.database_url, "0002")
    for command in (("holdings",), ("holdings", "--json"), ("purge",)):
        result = run(*command)
        assert result.exit_code == 1
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "latest migration" in lines[0], result.output
