"""Concurrent writers: parallel chunk uploads, follow-ups and filings neither fail with a
locked database nor lose or duplicate anything (SQLite takes the write lock at BEGIN;
PostgreSQL relies on row locks and primary keys)."""

from concurrent.futures import ThreadPoolExecutor

from crypto.attachment import CHUNK_CIPHERTEXT
from crypto.encoding import b64encode
from server.cases import file_followup, file_report
from server.errors import ApiError
from server.uploads import create_upload, store_chunk

from .support import Submitter, file_case


def test_parallel_chunks_of_several_uploads(ctx, env):
    uploads = [create_upload(ctx, 12).upload_id for _ in range(3)]
    jobs = [(u, i) for u in uploads for i in range(12)]

    def put(job):
        upload_id, index = job
        store_chunk(ctx, upload_id, index, bytes([index]) * CHUNK_CIPHERTEXT)
        store_chunk(ctx, upload_id, index, bytes([index]) * CHUNK_CIPHERTEXT)  # idempotent resend

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(put, jobs))
    assert env.count("upload_chunks") == 36
    assert len(env.blob_files()) == 36


def test_parallel_followups_get_distinct_numbers(client, ctx, env, org):
    s = Submitter()
    file_case(client, s, [org.desks["desk-1"]])
    envelopes = [b64encode(s.followup([org.desks["desk-1"]], text=f"note {i}")) for i in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        filed = list(pool.map(lambda e: file_followup(ctx, s.lookup, e, []), envelopes))
    assert sorted(f.seq for f in filed) == list(range(1, 11))
    assert env.count("followups") == 10


def test_one_upload_filed_by_two_cases_at_once(ctx, env, org):
    upload_id = create_upload(ctx, 1).upload_id
    store_chunk(ctx, upload_id, 0, bytes(CHUNK_CIPHERTEXT))
    submitters = [Submitter() for _ in range(6)]

    def attempt(s):
        try:
            file_report(ctx, s.lookup, b64encode(s.report([org.desks["desk-1"]])), [upload_id])
            return "filed"
        except ApiError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(attempt, submitters))
    assert sorted(results) == ["filed"] + ["upload_in_use"] * 5
    assert env.count("cases") == 1
