"""Every response, whatever produced it, carries the strict header set and no cookie,
Server, Date or file time; unexpected failures answer a bare 500 and log no details."""

import logging

import pytest

from crypto.attachment import CHUNK_CIPHERTEXT
from server.security.headers import CONTENT_SECURITY_POLICY

from .support import Submitter, attachment, file_case, make_reply, outbound_bundle, upload

EXPECTED = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' blob:; "
        "media-src 'self' blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
    "permissions-policy": "camera=(), geolocation=(), microphone=(self), payment=(), usb=()",
    "x-frame-options": "DENY",
}


def check_headers(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get_list(name) == [value], (response.request.url, name)
    for name in ("set-cookie", "server", "date", "last-modified", "etag"):
        assert name not in response.headers, (response.request.url, name)


def test_csp_has_no_unsafe_source_and_no_other_origin():
    assert CONTENT_SECURITY_POLICY == EXPECTED["content-security-policy"]
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
    assert "http" not in CONTENT_SECURITY_POLICY and "*" not in CONTENT_SECURITY_POLICY


def test_every_kind_of_response_has_the_headers(client, org, env):
    desk = org.desks["desk-1"]
    s = Submitter()
    att = attachment(10)
    responses = []
    responses.append(client.get("/"))
    responses.append(client.get("/index.html"))
    responses.append(client.get("/js/app.js"))
    responses.append(client.head("/js/app.js"))
    responses.append(client.get("/deployment.json"))
    responses.append(client.get("/api/v1/manifest"))
    responses.append(client.get("/api/openapi.json"))
    responses.append(client.get("/api/docs"))
    created = client.post("/api/v1/uploads", json={"chunks": 1})
    responses.append(created)
    att.upload_id = created.json()["upload_id"]
    responses.append(client.put(f"/api/v1/uploads/{att.upload_id}/chunks/0", content=att.chunks[0]))  # 204
    responses.append(client.get(f"/api/v1/uploads/{att.upload_id}"))
    responses.append(
        client.post("/api/v1/cases", json={"lookup": s.lookup, "envelope": _b64(s.report([desk], [att.descriptor()])), "uploads": [att.upload_id]})
    )
    responses.append(client.post("/api/v1/cases/lookup", json={"lookup": s.lookup}))
    responses.append(client.post("/api/v1/cases/followups", json={"lookup": s.lookup, "envelope": _b64(s.followup([desk]))}))
    responses.append(client.get("/api/v1/desk/inbound", headers=org.auth()))
    _, data = outbound_bundle(desk, replies=[(s.case_id, 1, make_reply(desk, s, 1))])
    responses.append(client.post("/api/v1/desk/outbound", content=data, headers=org.auth()))
    # errors of every origin
    responses.append(client.post("/api/v1/desk/outbound", content=data, headers=org.auth()))  # 409
    responses.append(client.get("/api/v1/desk/inbound"))  # 401
    responses.append(client.get("/nothing"))  # 404 static
    responses.append(client.get("/api/v1/uploads/" + "0" * 32))  # 404 API
    responses.append(client.post("/index.html"))  # 405
    responses.append(client.post("/api/v1/uploads", content=b"{", headers={"Content-Type": "application/json"}))  # 422
    responses.append(client.post("/api/v1/cases/lookup", json={"lookup": "x"}))  # 400
    responses.append(client.post("/api/v1/cases/lookup", content=b"x" * (3 * 1024 * 1024)))  # 413 from the body cap
    responses.append(client.put(f"/api/v1/uploads/{att.upload_id}/chunks/0", content=bytes(CHUNK_CIPHERTEXT)))  # 409
    statuses = {r.status_code for r in responses}
    assert {200, 201, 204, 400, 401, 404, 405, 409, 413, 422} <= statuses
    for response in responses:
        check_headers(response)


def _b64(data: bytes) -> str:
    from crypto.encoding import b64encode

    return b64encode(data)


def test_unexpected_failure_is_a_bare_500_with_headers_and_no_details(client, org, monkeypatch, caplog):
    from server.routes import status as status_route

    secret = "SECRET-DETAIL-" + "7" * 20

    def explode(ctx, lookup):
        raise RuntimeError(f"boom {secret} {lookup}")

    monkeypatch.setattr(status_route, "lookup_case", explode)
    s = Submitter()
    with caplog.at_level(logging.DEBUG):
        response = client.post("/api/v1/cases/lookup", json={"lookup": s.lookup}, headers={"User-Agent": "AgentSmith/1.0"})
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "internal server error"}}
    check_headers(response)
    logged = caplog.text
    assert "RuntimeError" in logged  # the fault is logged ...
    assert secret not in logged and s.lookup not in logged and "AgentSmith" not in logged  # ... without details
    assert secret not in response.text


def test_header_middleware_strips_what_any_inner_app_sends():
    """Set-Cookie, Server, Date and file times are removed and weaker values of the strict
    headers replaced, whatever the wrapped app sent."""
    from starlette.testclient import TestClient

    from server.security.headers import SecurityHeadersMiddleware

    async def leaky(scope, receive, send):
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"set-cookie", b"session=1"),
                (b"Server", b"uvicorn"),
                (b"date", b"Mon, 23 Nov 2026 14:00:00 GMT"),
                (b"last-modified", b"Mon, 23 Nov 2026 14:00:00 GMT"),
                (b"etag", b'"abc"'),
                (b"cache-control", b"public, max-age=3600"),
                (b"content-security-policy", b"default-src *"),
                (b"content-type", b"text/plain"),
            ],
        })
        await send({"type": "http.response.body", "body": b"ok"})

    response = TestClient(SecurityHeadersMiddleware(leaky)).get("/")
    assert response.text == "ok" and response.headers["content-type"] == "text/plain"
    check_headers(response)
