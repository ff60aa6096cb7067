"""Large attachments move through the server with flat memory: an inbound bundle is
written one chunk at a time, and chunk uploads never hold more than one chunk."""

import tracemalloc

from crypto.attachment import CHUNK_CIPHERTEXT
from crypto.bundle import INBOUND, read_bundle
from server.inbound import build_inbound

from .support import Submitter, file_case


def test_inbound_bundle_of_a_large_attachment_uses_flat_memory(client, ctx, org, env):
    chunks = 48  # 12 MiB of ciphertext
    created = client.post("/api/v1/uploads", json={"chunks": chunks}).json()
    upload_id = created["upload_id"]
    for index in range(chunks):
        data = bytes([index]) * CHUNK_CIPHERTEXT
        assert client.put(f"/api/v1/uploads/{upload_id}/chunks/{index}", content=data).status_code == 204

    s = Submitter()
    from crypto.encoding import b64encode

    envelope = s.report([org.desks["desk-1"]])
    response = client.post("/api/v1/cases", json={"lookup": s.lookup, "envelope": b64encode(envelope), "uploads": [upload_id]})
    assert response.status_code == 201

    with ctx.blobs.spool() as spool:
        tracemalloc.start()
        try:
            build_inbound(ctx, "desk-1", spool)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert spool.tell() > chunks * CHUNK_CIPHERTEXT
        assert peak < 4 * CHUNK_CIPHERTEXT, f"peak {peak} bytes while writing a {chunks * CHUNK_CIPHERTEXT}-byte bundle"

        bundle = read_bundle(spool, INBOUND)
        item = next(i for i in bundle.header["items"] if i["type"] == "attachment")
        for index, piece in enumerate(bundle.iter_blob(spool, item["blob"], chunk=CHUNK_CIPHERTEXT)):
            assert piece == bytes([index]) * CHUNK_CIPHERTEXT
