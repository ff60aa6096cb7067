"""What a client pins and reads before anything else, and the API description."""

import html

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from ..context import AppContext, get_ctx

router = APIRouter()


@router.get("/deployment.json", tags=["deployment"], responses={200: {"content": {"application/json": {}}}})
def get_deployment(ctx: AppContext = Depends(get_ctx)) -> Response:
    """The deployment file: {"v": 1, "org", "root_pk"}; the client pins root_pk."""
    return Response(ctx.deployment_bytes, media_type="application/json")


@router.get("/api/v1/manifest", tags=["deployment"], responses={200: {"content": {"application/json": {}}}})
def get_manifest(ctx: AppContext = Depends(get_ctx)) -> Response:
    """The signed recipients manifest, exactly as the organisation's root key signed it."""
    return Response(ctx.manifest_bytes, media_type="application/json")


@router.get("/api/docs", include_in_schema=False, response_class=HTMLResponse)
def get_docs(request: Request) -> HTMLResponse:
    """A plain, script-free summary of the OpenAPI description. (Swagger UI would need a
    CDN and inline script, which the Content-Security-Policy forbids.)"""
    spec = request.app.openapi()
    rows = []
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            summary = operation.get("summary") or operation.get("operationId", "")
            rows.append(
                f"<tr><td><code>{html.escape(method.upper())}</code></td>"
                f"<td><code>{html.escape(path)}</code></td><td>{html.escape(summary)}</td></tr>"
            )
    page = (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(spec['info']['title'])} API</title></head><body>"
        f"<h1>{html.escape(spec['info']['title'])} API {html.escape(spec['info']['version'])}</h1>"
        '<p>The machine-readable description is at <a href="/api/openapi.json">/api/openapi.json</a>; '
        "the contract in words is docs/API.md.</p>"
        "<table><thead><tr><th>method</th><th>path</th><th>summary</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>"
    )
    return HTMLResponse(page)
