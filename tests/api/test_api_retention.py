"""purge_orphan_uploads and the stray-file sweep, called directly."""

from datetime import date

from server.retention import purge_orphan_uploads, sweep_stray_blobs

from .blobstores import both_blob_stores
from .support import Submitter, attachment, file_case, upload


@both_blob_stores
def test_purge_orphan_uploads_after_one_day(client, env, ctx, org):
    orphan = attachment(300_000, seed=1)
    upload(client, orphan)
    kept = attachment(10, seed=2)
    file_case(client, Submitter(), [org.desks["desk-1"]], [kept])
    assert len(env.blob_files()) == 3

    for today in (date(2026, 11, 23), date(2026, 11, 24)):
        with ctx.db.write() as session:
            assert purge_orphan_uploads(session, ctx.blobs, today) == []
    assert len(env.blob_files()) == 3

    with ctx.db.write() as session:
        assert purge_orphan_uploads(session, ctx.blobs, date(2026, 11, 25)) == [orphan.upload_id]
    assert [r[0] for r in env.rows("uploads")] == [kept.upload_id]
    assert [r[0] for r in env.rows("upload_chunks")] == [kept.upload_id]
    assert list(env.blob_files()) and all(kept.upload_id in p for p in env.blob_files())
    assert orphan.upload_id not in ctx.blobs.upload_ids()


@both_blob_stores
def test_purge_keeps_files_if_the_transaction_rolls_back(client, env, ctx):
    orphan = attachment(10)
    upload(client, orphan)
    before = env.snapshot()
    try:
        with ctx.db.write() as session:
            assert purge_orphan_uploads(session, ctx.blobs, date(2027, 1, 1)) == [orphan.upload_id]
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert env.snapshot() == before


@both_blob_stores
def test_partial_uploads_are_purged_too(client, env, ctx):
    partial = attachment(600_000)
    upload(client, partial, skip=(1,))
    with ctx.db.write() as session:
        assert purge_orphan_uploads(session, ctx.blobs, date(2026, 12, 1)) == [partial.upload_id]
    assert env.count("uploads") == 0 and env.count("upload_chunks") == 0 and env.blob_files() == {}


@both_blob_stores
def test_sweep_removes_files_of_acknowledged_or_missing_uploads(client, env, ctx, org):
    live = attachment(10, seed=1)
    upload(client, live)
    ghost_id = "ab" * 16
    ctx.blobs.put_chunk(ghost_id, 0, b"left behind by a crash")
    acked = attachment(10, seed=2)
    file_case(client, Submitter(), [org.desks["desk-1"]], [acked])
    with ctx.db.write() as session:
        from sqlalchemy import update

        from server.storage.models import Upload

        session.execute(update(Upload).where(Upload.upload_id == acked.upload_id).values(acked=True))
    with ctx.db.read() as session:
        assert sorted(sweep_stray_blobs(session, ctx.blobs)) == sorted([ghost_id, acked.upload_id])
    assert ctx.blobs.upload_ids() == [live.upload_id]
