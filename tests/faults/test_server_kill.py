"""The server killed with SIGKILL at random moments (seeded), many times, while people send
reports (with and without files), follow-ups with files and chunked uploads through real
HTTP with proofs of work, and while the desk pulls, imports and acknowledges. After each kill
the same server starts again on the same files and everyone carries on as the page does.

At the end: every report, follow-up and file the server answered with success is in the
desk's vault and decrypts to exactly what was sent; every bundle the desk received whole
imports with nothing refused (nothing partial was ever served); every upload a person left
unfinished is still resumable with every chunk that was answered 204, and resumes to
completion; right after a kill every chunk row names a whole chunk file, and the chunks a
kill left staged (never read) are removed by `quietline server purge` once they are old; the
database passes SQLite's integrity and foreign-key checks.

QUIETLINE_FAULTS_SEED and QUIETLINE_FAULTS_KILLS change the schedule and the number of kills."""

import os
import random
import subprocess
import threading
import time

from crypto.attachment import CHUNK_CIPHERTEXT, CHUNK_PLAINTEXT
from server.storage.blobs import LocalBlobStore

from .desk import QUIETLINE, Desk, missing_from_vault
from .person import Channel, File, Person, Sent, evidence
from .served import Deployment, Server

SEED = int(os.environ.get("QUIETLINE_FAULTS_SEED", "6"))
KILLS = int(os.environ.get("QUIETLINE_FAULTS_KILLS", "22"))
PEOPLE = 3


def some_files(rng: random.Random, most: int) -> list[File]:
    """Up to `most` files of 1 to 4 chunks (sizes anywhere inside a chunk)."""
    return [File(f"evidence-{i}.bin", evidence(rng, rng.randint(1, 4 * CHUNK_PLAINTEXT - 1)))
            for i in range(rng.randint(1, most))]


def one_person(n: int, base_url: str, desks, stop: threading.Event, sent: list[Sent], lock, failures: list) -> None:
    rng = random.Random(SEED * 1000 + n)
    channel = Channel(base_url, rng)
    person = Person(channel, desks)
    try:
        while not stop.is_set():
            kind = rng.choice(("report", "report_with_files", "files_after", "left_unfinished"))
            if kind == "report":
                done = person.report([])
            elif kind == "report_with_files":
                done = person.report(some_files(rng, 2))
            else:
                done = person.report([])  # the page files the report first, its files follow
                files = some_files(rng, 2)
                if kind == "files_after":
                    person.followup(done, files)
                else:  # the person closes the page part-way through a file
                    received = person.find_or_create(done.submitter, files[0])
                    person.send_chunks(files[0], received, stop_after=rng.randint(0, files[0].params.chunks - 1))
                    done.abandoned.append(files[0])
            with lock:
                sent.append(done)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        failures.append(exc)
    finally:
        channel.close()
        with lock:
            sent.append(("lost", channel.lost))


def desk_routine(desk: Desk, stop: threading.Event, failures: list) -> None:
    try:
        while not stop.is_set():
            desk.cycle()
            stop.wait(0.5)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        failures.append(exc)


def test_sigkill_during_submissions_and_uploads_loses_and_corrupts_nothing(org, tmp_path):
    rng = random.Random(SEED)
    deployment = Deployment.create(tmp_path / "server", org)
    server = Server(deployment, tmp_path / "server.log")
    desk = Desk(tmp_path / "desk", org, server.base_url)
    desks = [org.desks["desk-1"]]
    server.start()
    stop, lock = threading.Event(), threading.Lock()
    sent: list = []
    failures: list = []
    threads = [threading.Thread(target=one_person, args=(n, server.base_url, desks, stop, sent, lock, failures))
               for n in range(PEOPLE)]
    threads.append(threading.Thread(target=desk_routine, args=(desk, stop, failures)))
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.1, 1.2))
            assert not failures, failures
            server.kill()
            server.start()
        stop.set()
        for thread in threads:
            thread.join(timeout=240)
            assert not thread.is_alive(), "a client is stuck"
        assert not failures, failures
        chaos_seconds = time.monotonic() - started

        lost = sum(n for item in sent if isinstance(item, tuple) for n in [item[1]])
        sent = [item for item in sent if not isinstance(item, tuple)]

        # One more kill, and a look at the files as the kill left them: every chunk row names
        # a whole chunk file; what is not a chunk is a staged chunk nobody reads, which the
        # purge removes once it is older than any chunk write takes (aged here by hand).
        server.kill()
        store = LocalBlobStore(deployment.blob_dir)
        rows = deployment.rows("SELECT upload_id, chunk_index FROM upload_chunks")
        assert rows, "unfinished uploads hold chunks at this point"
        for upload_id, index in rows:
            path = store._path(upload_id, index)
            assert path.is_file() and path.stat().st_size == CHUNK_CIPHERTEXT, f"a chunk row without its whole file: {path}"
        staged = [p for p in store.uploads.rglob(".*.tmp")]
        chunk_files = {p for p in store.uploads.rglob("*.chunk")}
        for temp in staged:
            os.utime(temp, (time.time() - 7200, time.time() - 7200))
        purged = subprocess.run([QUIETLINE, "server", "purge"], env=deployment.environment(), capture_output=True, text=True)
        assert purged.returncode == 0, purged.stderr
        assert [p for p in store.uploads.rglob(".*.tmp")] == []
        assert all(store._path(u, i).is_file() for u, i in rows) and len(chunk_files) >= len(rows)
        server.start()
        person = Person(Channel(server.base_url, rng), desks)

        # Every unfinished upload is still there with each chunk answered 204, and resumes.
        unfinished = [(s, f) for s in sent for f in s.abandoned]
        for s, file in unfinished:
            acked = set(file.acked_chunks)
            received = person.find_or_create(s.submitter, file)
            assert acked <= set(received), f"chunks answered 204 were lost: {sorted(acked - set(received))}"
            person.send_chunks(file, received)
            person.followup(s, [file])

        # The desk takes in everything left, then finds every acknowledged thing in its vault.
        desk.cycle()
        desk.cycle()
        with desk.open() as vault:
            problems = missing_from_vault(vault, sent)
        assert problems == [], problems
    finally:
        stop.set()
        server.stop()

    # Everything acknowledged went to the desk and was acknowledged by it: the server holds
    # no chunk any more, and its database is sound.
    assert deployment.rows("SELECT count(*) FROM upload_chunks") == [(0,)]
    assert [p for p in store.uploads.rglob("*") if p.is_file()] == []
    assert deployment.integrity() == []

    files = sum(len(s.files) + sum(len(f) for _, f in s.followups) for s in sent)
    print(f"\n{server.kills} kills in {chaos_seconds:.0f} s: {len(sent)} cases, {files} files, "
          f"{len(unfinished)} resumed later; {lost} requests lost and sent again; {len(staged)} staged chunks left by kills; "
          f"desk: {desk.pulled} bundles pulled whole, {desk.pushed} pushed, {desk.cut} transfers cut")
    assert server.kills == KILLS + 1 and lost >= KILLS // 2, "the kills must land while requests are in flight"
    assert len(sent) >= 2 * PEOPLE and unfinished and desk.pulled >= 3
