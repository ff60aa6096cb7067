"""A full disk under a running server: the blob folder and the database each on a small file
system of their own (tmpfs, mounted by the test), filled up by another file as a disk fills
in life. A chunk that cannot be written, a report the database cannot take and an inbound
bundle that cannot be spooled are each answered 507 `storage_full` (docs/API.md, translated
in the browser as errors.storage_full), with one log line and no traceback; nothing half
written is left, reads still answer, and nothing acknowledged before is lost or damaged.
Once space is freed, without a restart, the same upload resumes where it stopped and
completes, the refused report goes through, and the desk's vault holds everything exactly
as sent. Mounting needs root: without it the test fails and says so."""

import os
import random
import subprocess
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from api.support import Submitter
from crypto.attachment import CHUNK_CIPHERTEXT
from crypto.encoding import b64encode
from server.faults import STORAGE_FULL
from server.storage.blobs import LocalBlobStore
from workstation.cases import get_case
from workstation.errors import WorkstationError
from workstation.sync.cli import pull

from .desk import Desk, missing_from_vault
from .person import Channel, File, Person, evidence
from .served import Deployment, Server

FULL_BODY = {"error": {"code": "storage_full", "message": STORAGE_FULL}}


@contextmanager
def small_filesystem(path: Path, size: str):
    """A tmpfs of `size` at `path` for the length of the block."""
    path.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.fail(f"the disk-full test needs a small file system of its own, and `mount -t tmpfs` failed "
                    f"({mounted.stderr.strip() or mounted.returncode}): run it as root (make test in CI does)")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(volume: Path, leave: int) -> Path:
    """Take every byte of `volume` but about `leave`, with a file of its own."""
    filler = volume / "filler"
    stat = os.statvfs(volume)
    free = stat.f_bavail * stat.f_frsize
    with open(filler, "wb") as out:
        os.posix_fallocate(out.fileno(), 0, max(0, free - leave))
    return filler


def blob_files(store: LocalBlobStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()]


def test_a_full_disk_is_507_loses_nothing_and_the_upload_resumes_once_space_is_freed(org, tmp_path):
    rng = random.Random(62)
    with ExitStack() as stack:
        blob_volume = stack.enter_context(small_filesystem(tmp_path / "blob-volume", "8m"))
        db_volume = stack.enter_context(small_filesystem(tmp_path / "db-volume", "4m"))
        deployment = Deployment.create(tmp_path / "server", org, database=db_volume / "quietline.db",
                                       blob_dir=blob_volume / "blobs")
        server = stack.enter_context(Server(deployment, tmp_path / "server.log"))
        desk = Desk(tmp_path / "desk", org, server.base_url)
        desks = [org.desks["desk-1"]]
        person = Person(Channel(server.base_url, rng), desks)
        http = person.channel.http
        store = LocalBlobStore(deployment.blob_dir)

        before = [person.report([]), person.report([File("before.bin", evidence(rng, 400_000))])]
        stored_before = {p: p.read_bytes() for p in blob_files(store)}

        # 1. The blob folder's disk fills: room for one more chunk and a half.
        blob_filler = fill(blob_volume, CHUNK_CIPHERTEXT * 3 // 2)
        waiting = person.report([])
        file = File("during.bin", evidence(rng, 900_000))  # four chunks
        person.send_chunks(file, person.find_or_create(waiting.submitter, file), stop_after=1)
        refused_chunk = http.put(f"/api/v1/uploads/{file.upload_id}/chunks/1", content=file.chunks[1])
        assert (refused_chunk.status_code, refused_chunk.json()) == (507, FULL_BODY)
        # The desk's pull needs room to spool its bundle: refused the same way, nothing written.
        with pytest.raises(WorkstationError, match="507 storage_full"):
            pull(desk.config, tmp_path / "desk" / "refused.inbound")
        assert not (tmp_path / "desk" / "refused.inbound").exists()
        # Nothing half-written: only whole chunks, the ones acknowledged before unchanged.
        on_disk = blob_files(store)
        assert all(p.stat().st_size == CHUNK_CIPHERTEXT for p in on_disk), on_disk
        assert len(on_disk) == len(stored_before) + 1
        assert all(p.read_bytes() == data for p, data in stored_before.items())

        # 2. The database's disk fills: a large report cannot be stored; reads still answer.
        db_filler = fill(db_volume, 64 * 1024)
        big = Submitter()
        big_text = "A long account. " * 6_000  # 96,000 characters (the most is 100,000): a 256 KiB envelope
        big_body = {"lookup": big.lookup, "envelope": b64encode(big.report(desks, text=big_text))}
        refused_report = http.post("/api/v1/cases", json=big_body)
        assert (refused_report.status_code, refused_report.json()) == (507, FULL_BODY)
        found = http.post("/api/v1/cases/lookup", json={"lookup": before[0].submitter.lookup})
        assert found.status_code == 200 and found.json()["found"] is True
        assert http.post("/api/v1/cases/lookup", json={"lookup": big.lookup}).json()["found"] is False

        # 3. Space is freed: the same upload resumes after its one stored chunk and completes,
        # the refused report goes through, with no restart.
        blob_filler.unlink()
        db_filler.unlink()
        received = person.find_or_create(waiting.submitter, file)
        assert received == [0]
        person.send_chunks(file, received)
        person.followup(waiting, [file])
        assert http.post("/api/v1/cases", json=big_body).status_code == 201

        assert desk.cycle(), desk.last_error
        with desk.open() as vault:
            assert missing_from_vault(vault, [*before, waiting]) == []
            assert get_case(vault, big.case_id)["report"]["text"] == big_text
        server.stop()
        assert deployment.integrity() == []

    log = server.log()
    assert log.count("storage_full (ENOSPC)") == 2, log  # the chunk and the spool
    assert log.count("storage_full (SQLITE_FULL)") == 1, log
    assert "Traceback" not in log and "[SQL:" not in log, log
    for secret in (big.lookup, big.case_id, waiting.submitter.case_id, file.upload_id, str(blob_volume)):
        assert secret not in log, (secret, log)
