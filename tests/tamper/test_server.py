"""The server refuses every tampered artifact it can see without a key, through the API
(the TestClient app of tests/api, configured with the World's manifest): envelope framing,
versions, kinds and recipients; reply framing and signer; outbound bundle digests,
signatures, desks, directions and replays; chunk sizes and counts; a manifest that does not
verify against the pinned root key stops it from starting. A refusal is a 4xx with the
stable code and stores nothing; what it cannot see (ACCEPTED in the table) it stores, and a
later layer refuses."""

import secrets

import pytest

from crypto.attachment import CHUNK_CIPHERTEXT
from crypto.encoding import b64encode
from crypto.envelope import seal
from server.app import create_app

from .table import ACCEPTED, VALID, BundleFile, Filed, ManifestFile, Served, Stream, ids, rows_for
from .world import World, descriptor, report_body


class Api:
    """The server as the browser and the desk's sync machine reach it."""

    def __init__(self, client, org, world: World):
        self.client, self.org, self.world = client, org, world

    def file(self, kind: str, case: str, envelope: bytes, uploads=()):
        body = {"lookup": self.world.case(case).lookup, "envelope": b64encode(envelope)}
        if kind == "withdrawal":
            return self.client.post("/api/v1/cases/withdraw", json=body)
        path = "/api/v1/cases" if kind == "report" else "/api/v1/cases/followups"
        return self.client.post(path, json={**body, "uploads": list(uploads)})

    def file_ok(self, kind: str, case: str, envelope: bytes, uploads=()) -> None:
        response = self.file(kind, case, envelope, uploads)
        assert response.status_code in (200, 201), response.text

    def push(self, data: bytes, desk: str = "desk-1"):
        headers = {**self.org.auth(desk), "Content-Type": "application/octet-stream"}
        return self.client.post("/api/v1/desk/outbound", content=data, headers=headers)

    def push_ok(self, data: bytes, desk: str = "desk-1") -> None:
        response = self.push(data, desk)
        assert response.status_code == 200, response.text

    def create_upload(self, chunks: int) -> str:
        response = self.client.post("/api/v1/uploads", json={"chunks": chunks})
        assert response.status_code == 201, response.text
        return response.json()["upload_id"]

    def put_chunk(self, upload_id: str, index: int, data: bytes):
        return self.client.put(f"/api/v1/uploads/{upload_id}/chunks/{index}", content=data)


@pytest.fixture
def api(client, org, world) -> Api:
    return Api(client, org, world)


def refused_or_taken(env, send, expected: str, where: str):
    """Send one request: a refusal must carry the code and store nothing."""
    before = env.snapshot()
    response = send()
    if expected == ACCEPTED:
        assert 200 <= response.status_code < 300, f"{where}: {response.status_code} {response.text}"
        return response
    assert 400 <= response.status_code < 500, f"{where}: {response.status_code} {response.text}"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == expected, f"{where}: {body['error']}, want {expected}"
    assert env.snapshot() == before, f"{where}: a refusal stored something"
    return response


def send_to_server(api: Api, env, world: World, kind: str, artifact, expected: str, where: str) -> None:
    if isinstance(artifact, Filed):
        if artifact.kind != "report":
            api.file_ok("report", artifact.case, world.report_of(artifact.case))
        for earlier in artifact.before:
            api.file_ok(earlier.kind, earlier.case, earlier.envelope)
        refused_or_taken(env, lambda: api.file(artifact.kind, artifact.case, artifact.envelope), expected, where)
    elif isinstance(artifact, Served):
        # Desk-1 sends the replies to the case in one outbound bundle.
        api.file_ok("report", "a", world.report_a)
        case_id = world.case(artifact.case).case_id
        data = world.outbound(replies=[(case_id, seq, blob) for seq, blob in artifact.replies],
                              bundle_id=secrets.token_hex(16))
        refused_or_taken(env, lambda: api.push(data), expected, where)
    elif isinstance(artifact, BundleFile):
        api.file_ok("report", "a", world.report_a)
        for earlier in artifact.before:
            api.push_ok(earlier)
        refused_or_taken(env, lambda: api.push(artifact.data, artifact.pushed_by), expected, where)
    elif isinstance(artifact, Stream):
        upload_id = api.create_upload(world.att.chunks)
        for index, chunk in enumerate(artifact.chunks):
            response = refused_or_taken(env, lambda: api.put_chunk(upload_id, index, chunk),
                                        ACCEPTED if len(chunk) == CHUNK_CIPHERTEXT and index < world.att.chunks else expected,
                                        where)
            if response.status_code >= 400:
                return  # refused while uploading
        envelope = seal("report", report_body(world.a, [descriptor(upload_id, world.att)]), world.a.keys.sign_secret,
                        world.desks)
        refused_or_taken(env, lambda: api.file("report", "a", envelope, [upload_id]), expected, where)
    else:
        raise AssertionError(f"{where}: not a server artifact")


@pytest.mark.parametrize("kind", sorted({t.artifact for t in rows_for("server")} - {"manifest"}))
def test_valid_artifact_is_accepted(api, env, world, kind):
    send_to_server(api, env, world, kind, VALID[kind](world), ACCEPTED, f"valid {kind}")


@pytest.mark.parametrize("tamper", [t for t in rows_for("server") if t.artifact != "manifest"],
                         ids=ids([t for t in rows_for("server") if t.artifact != "manifest"]))
def test_tampered_artifact(api, env, world, tamper):
    send_to_server(api, env, world, tamper.artifact, tamper.build(world), tamper.expect.server, tamper.name)


# -- the manifest: the server does not start with one the pinned root key does not sign ----------


def start(env, settings, clock, manifest: ManifestFile):
    env.manifest_path.write_bytes(manifest.data)
    return create_app(settings, today=clock)


def test_valid_manifest_starts_the_server(env, settings, clock, world):
    app = start(env, settings, clock, VALID["manifest"](world))
    assert [d.id for d in app.state.ctx.manifest.desks] == ["desk-1", "desk-2"]
    app.state.ctx.db.dispose()


@pytest.mark.parametrize("tamper", [t for t in rows_for("server") if t.artifact == "manifest"],
                         ids=ids([t for t in rows_for("server") if t.artifact == "manifest"]))
def test_tampered_manifest_stops_the_server(env, settings, clock, world, tamper):
    with pytest.raises(RuntimeError) as info:
        start(env, settings, clock, tamper.build(world))
    assert f"is not valid for this deployment: {tamper.expect.server}: " in str(info.value)
