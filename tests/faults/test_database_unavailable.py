"""The database goes away under a running server (SQLite: its folder moved off, as when its
volume is unmounted; PostgreSQL: the database server stopped), then comes back. Meanwhile
every request that needs it is answered 503 `unavailable` (documented in docs/API.md,
translated in the browser), nothing is stored, no empty SQLite database is created in its
place, and the log has one line per refusal with no traceback and nothing from the
requests. Once it is back the server answers again without a restart: the refused report
and the interrupted upload go through, and everything acknowledged before, during and after
is in the desk's vault exactly as sent."""

import random
import subprocess

import pytest
from sqlalchemy import create_engine, text

from api.pgcluster import PG_BIN, PG_USER, ClusterUnavailable, start_cluster
from api.support import Submitter
from crypto.encoding import b64encode
from server.faults import UNAVAILABLE
from workstation.cases import get_case

from .desk import Desk, missing_from_vault
from .person import Channel, File, Person, evidence
from .served import Deployment, Server

UNAVAILABLE_BODY = {"error": {"code": "unavailable", "message": UNAVAILABLE}}


def database_goes_and_comes_back(org, tmp_path, deployment, take_away, bring_back, reason: str) -> None:
    """The scenario on any database: `take_away()` while the server runs, requests refused,
    `bring_back()`, everything through; `reason` is what the log names."""
    rng = random.Random(61)
    server = Server(deployment, tmp_path / "server.log")
    desk = Desk(tmp_path / "desk", org, server.base_url)
    desks = [org.desks["desk-1"]]
    with server:
        person = Person(Channel(server.base_url, rng), desks)
        http = person.channel.http
        before = [person.report([]), person.report([File("before.bin", evidence(rng, 300_000))])]
        # A follow-up's file, half sent when the database goes.
        waiting = person.report([])
        file = File("during.bin", evidence(rng, 600_000))
        person.send_chunks(file, person.find_or_create(waiting.submitter, file), stop_after=1)

        take_away()
        late = Submitter()
        envelope = b64encode(late.report(desks, text="Sent while the database was away."))
        refused = {
            "report": http.post("/api/v1/cases", json={"lookup": late.lookup, "envelope": envelope}),
            "lookup": http.post("/api/v1/cases/lookup", json={"lookup": before[0].submitter.lookup}),
            "resume": http.post("/api/v1/uploads/resume", json={"resume": b64encode(person._keys(waiting.submitter, file.data)[0])}),
            "chunk": http.put(f"/api/v1/uploads/{file.upload_id}/chunks/1", content=file.chunks[1]),
            "inbound": http.get("/api/v1/desk/inbound", headers=org.auth()),
        }
        answered = {name: (r.status_code, r.json()) for name, r in refused.items()}
        assert answered == {name: (503, UNAVAILABLE_BODY) for name in refused}, answered
        # What needs no database still answers.
        assert http.get("/api/v1/manifest").status_code == 200

        bring_back()
        # Back without a restart: the refused report, the rest of the upload, the lookup.
        assert http.post("/api/v1/cases", json={"lookup": late.lookup, "envelope": envelope}).status_code == 201
        person.send_chunks(file, person.find_or_create(waiting.submitter, file))
        person.followup(waiting, [file])
        found = http.post("/api/v1/cases/lookup", json={"lookup": before[0].submitter.lookup})
        assert found.status_code == 200 and found.json()["found"] is True
        after = person.report([File("after.bin", evidence(rng, 100_000))])

        assert desk.cycle(), desk.last_error
        with desk.open() as vault:
            assert missing_from_vault(vault, [*before, waiting, after]) == []
            assert get_case(vault, late.case_id)["report"]["text"] == "Sent while the database was away."

    log = server.log()
    assert log.count(f"unavailable ({reason})") == len(refused), log
    assert "Traceback" not in log and "[SQL:" not in log, log
    for secret in (late.lookup, late.case_id, before[0].submitter.lookup, before[0].submitter.case_id, file.upload_id,
                   envelope[:24]):
        assert secret not in log, (secret, log)


def test_sqlite_folder_gone_is_503_creates_nothing_and_recovers(org, tmp_path):
    deployment = Deployment.create(tmp_path / "server", org)
    folder = deployment.database.parent
    away = folder.with_name(folder.name + ".away")

    def take_away() -> None:
        folder.rename(away)  # as when its volume is unmounted

    def bring_back() -> None:
        assert not folder.exists(), "the server made a new database where the old one was"
        away.rename(folder)

    database_goes_and_comes_back(org, tmp_path, deployment, take_away, bring_back, "SQLITE_CANTOPEN")
    assert deployment.integrity() == []


def test_postgresql_stopped_is_503_and_recovers(org, tmp_path):
    """The same with the server on PostgreSQL (a throwaway cluster of this test's own,
    tests/api/pgcluster.py), stopped under it and started again."""
    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        pytest.fail(f"no PostgreSQL for this test: {exc}", pytrace=False)
    pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(cluster.data_dir), "-s", "-w", "-t", "60"]
    as_postgres = ["runuser", "-u", PG_USER, "--"] if cluster.as_postgres else []
    try:
        admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE quietline"))
        admin.dispose()
        deployment = Deployment.create(tmp_path / "server", org, database_url=cluster.url("quietline"))
        database_goes_and_comes_back(
            org, tmp_path, deployment,
            lambda: subprocess.run([*as_postgres, *pg_ctl, "-m", "fast", "stop"], check=True),
            lambda: subprocess.run([*as_postgres, *pg_ctl, "-l", str(cluster.root / "server.log"), "start"], check=True),
            "OperationalError",
        )
    finally:
        cluster.stop()
