"""Deployment file, manifest, OpenAPI description, static client, unknown routes, and the
startup refusals (an app that cannot trust its manifest must not run)."""

import json

import pytest
from nacl.bindings import crypto_sign_keypair

from crypto.encoding import b64encode
from crypto.manifest import Manifest, sign_manifest, verify_manifest
from server.app import create_app
from server.settings import MAX_ENVELOPE_BYTES, REPO_ROOT, Settings
from server.storage.migrate import downgrade


def test_deployment_json_is_the_pinned_file(client, env, org):
    response = client.get("/deployment.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.content == env.deployment_path.read_bytes()
    assert response.json()["root_pk"] == b64encode(org.root_pk)


def test_manifest_is_served_byte_for_byte_and_verifies(client, org):
    response = client.get("/api/v1/manifest")
    assert response.status_code == 200
    assert response.content == org.manifest_bytes
    manifest = verify_manifest(response.content, org.root_pk)
    assert [d.id for d in manifest.desks] == ["desk-1", "desk-2"]


def test_openapi_lists_every_endpoint(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {
        "/deployment.json": {"get"},
        "/api/v1/manifest": {"get"},
        "/api/v1/uploads": {"post"},
        "/api/v1/uploads/{upload_id}/chunks/{index}": {"put"},
        "/api/v1/uploads/{upload_id}": {"get"},
        "/api/v1/cases": {"post"},
        "/api/v1/cases/lookup": {"post"},
        "/api/v1/cases/followups": {"post"},
        "/api/v1/desk/inbound": {"get"},
        "/api/v1/desk/outbound": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    chunk_put = paths["/api/v1/uploads/{upload_id}/chunks/{index}"]["put"]
    assert "application/octet-stream" in chunk_put["requestBody"]["content"]


def test_docs_page_has_no_script_and_no_third_party(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    page = response.text.lower()
    assert "<script" not in page and "style=" not in page and "<link" not in page
    assert "http://" not in page and "https://" not in page
    assert "/api/v1/cases/lookup" in page and "/api/openapi.json" in page
    assert client.get("/api/redoc").status_code == 404
    assert client.get("/docs").status_code == 404


def test_static_client_is_served(client):
    index = client.get("/")
    assert index.status_code == 200 and "<title>Quietline</title>" in index.text
    assert index.headers["content-type"].startswith("text/html")
    script = client.get("/js/app.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "last-modified" not in script.headers and "etag" not in script.headers


@pytest.mark.parametrize(
    "path", ["/package.json", "/node_modules/x/index.js", "/.env", "/js/../package.json", "/scripts/vendor.mjs"]
)
def test_build_files_and_dotfiles_are_not_served(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "no such resource"}}


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v2/cases", "/nothing.html"])
def test_unknown_route_is_404_not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_wrong_method_has_the_error_shape(client):
    # An API path with another method falls through to the static client: not found.
    response = client.get("/api/v1/cases")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = client.post("/index.html", content=b"x")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


# -- startup refusals ---------------------------------------------------------------


def test_refuses_manifest_signed_by_another_root(settings, env):
    _, other_sk = crypto_sign_keypair()
    manifest = verify_manifest(env.manifest_path.read_bytes(), json_root(env))
    env.manifest_path.write_bytes(sign_manifest(manifest, other_sk))
    with pytest.raises(RuntimeError, match="bad_signature"):
        create_app(settings)


def test_refuses_tampered_manifest(settings, env):
    outer = json.loads(env.manifest_path.read_bytes())
    outer["body"] = outer["body"][:-4] + ("AAA=" if not outer["body"].endswith("AAA=") else "BBB=")
    env.manifest_path.write_text(json.dumps(outer))
    with pytest.raises(RuntimeError):
        create_app(settings)


def test_refuses_missing_or_malformed_deployment(settings, env):
    env.deployment_path.write_text('{"v": 1, "org": "x", "root_pk": "short"}')
    with pytest.raises(RuntimeError, match="root_pk"):
        create_app(settings)
    env.deployment_path.unlink()
    with pytest.raises(RuntimeError, match="deployment"):
        create_app(settings)


@pytest.mark.parametrize(
    "content",
    ["not json", '{"desks": []}', '{"desks": {"desk-1": "plaintext-token"}}', '{"desks": {"Desk One": "$argon2id$x"}}'],
)
def test_refuses_bad_desk_tokens_file(settings, env, content):
    env.tokens_path.write_text(content)
    with pytest.raises(RuntimeError, match="desk tokens"):
        create_app(settings)


def test_refuses_missing_client_folder(settings, env):
    for path in sorted(env.client_dir.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    env.client_dir.rmdir()
    with pytest.raises(RuntimeError, match="client folder"):
        create_app(settings)


def test_refuses_unmigrated_database(settings, env):
    downgrade(env.database_url, "base")
    with pytest.raises(RuntimeError, match="migration"):
        create_app(settings)


def json_root(env) -> bytes:
    from crypto.encoding import b64decode

    return b64decode(json.loads(env.deployment_path.read_bytes())["root_pk"])


# -- settings -------------------------------------------------------------------------


def test_settings_defaults_follow_development_md(monkeypatch):
    for name in ("DATABASE_URL", "BLOB_DIR", "MANIFEST", "DEPLOYMENT", "DESK_TOKENS", "CLIENT_DIR", "MAX_CHUNKS"):
        monkeypatch.delenv(f"QUIETLINE_{name}", raising=False)
    s = Settings()
    assert s.database_url == f"sqlite:///{REPO_ROOT / 'var/dev/quietline.db'}"
    assert s.blob_dir == REPO_ROOT / "var/dev/blobs"
    assert s.manifest == REPO_ROOT / "keys/dev/manifest.json"
    assert s.deployment == REPO_ROOT / "keys/dev/deployment.json"
    assert s.desk_tokens == REPO_ROOT / "var/dev/desk-tokens.json"
    assert s.client_dir == REPO_ROOT / "client_web"
    assert s.max_chunks == 4096
    assert s.max_uploads_per_envelope == 20
    assert s.max_envelope_bytes == MAX_ENVELOPE_BYTES == 1024 * 1024 + 7 + 16 * 88 + 24 + 16
    assert s.max_outbound_bundle_bytes == 64 * 1024 * 1024


def test_settings_read_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("QUIETLINE_BLOB_DIR", str(tmp_path / "b"))
    monkeypatch.setenv("QUIETLINE_MAX_CHUNKS", "24")
    monkeypatch.setenv("QUIETLINE_DATABASE_URL", "postgresql+psycopg://u@localhost/quietline")
    s = Settings()
    assert s.blob_dir == tmp_path / "b"
    assert s.max_chunks == 24
    assert s.database_url == "postgresql+psycopg://u@localhost/quietline"


def test_manifest_with_a_desk_outside_the_token_file_still_starts(settings, env, org):
    # A manifest may list desks with no transport token yet; they simply cannot sync.
    desks = tuple(k.public for k in org.desks.values())
    env.manifest_path.write_bytes(sign_manifest(Manifest("Test Organisation", "2026-11-02", desks), org.root_sk))
    env.tokens_path.write_text(json.dumps({"desks": {"desk-1": org.token_hashes["desk-1"]}}))
    app = create_app(settings)
    app.state.ctx.db.dispose()


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/x-www-form-urlencoded"])
def test_json_bodies_need_a_json_content_type(client, env, content_type):
    before = env.snapshot()
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/api/v1/uploads", content=b'{"chunks": 1}', headers=headers)
    assert response.status_code == 422 and response.json()["error"]["code"] == "bad_request"
    assert env.snapshot() == before
    ok = client.post("/api/v1/uploads", content=b'{"chunks": 1}', headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 201
