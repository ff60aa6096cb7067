"""The FastAPI application: `create_app(settings)`.

Startup refuses to run with a deployment file, manifest, desk tokens file or database
schema that is missing or invalid: the manifest must verify against the root key that the
deployment file pins.
"""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date

import anyio
from fastapi import FastAPI

from .context import AppContext, load_deployment, load_manifest
from .errors import CatchAllMiddleware, error_response, install_error_handlers, scrubbed_location
from .ids import utc_today
from .retention_task import CHECK_SECONDS, DailyPurge
from .routes import desk, followups, intake, meta, status, uploads, withdraw
from .routes import pow as pow_routes
from .security.desk_auth import DeskAuthenticator
from .security.pow import ProofOfWork
from .security.headers import SecurityHeadersMiddleware
from .security.limits import JsonBodyLimitMiddleware
from .settings import Settings
from .static import client_app
from .storage.blobs import BlobStoreUnavailable, open_blob_store
from .storage.db import Database
from .storage.migrate import check_schema

log = logging.getLogger("quietline.server")

DESCRIPTION = (
    "End-to-end encrypted reporting channel. The server stores only ciphertext and anonymous "
    "case indexes. Every error body is {\"error\": {\"code\", \"message\"}}; see docs/API.md."
)


def create_app(
    settings: Settings | None = None,
    *,
    today: Callable[[], date] = utc_today,
    purge_check_seconds: float = CHECK_SECONDS,
) -> FastAPI:
    settings = settings or Settings()
    deployment_bytes, root_pk = load_deployment(settings.deployment)
    manifest_bytes, manifest = load_manifest(settings.manifest, root_pk)
    desk_auth = DeskAuthenticator.from_file(settings.desk_tokens, manifest)
    proof_of_work = ProofOfWork.from_settings(settings)
    if not settings.client_dir.is_dir():
        raise RuntimeError(f"client folder {settings.client_dir} does not exist")
    blobs = open_blob_store(settings)
    blobs.check()
    db = Database(settings.database_url)
    try:
        check_schema(db.engine, settings.database_url)
    except BaseException:
        db.dispose()
        raise
    ctx = AppContext(
        settings=settings,
        db=db,
        blobs=blobs,
        manifest=manifest,
        manifest_bytes=manifest_bytes,
        deployment_bytes=deployment_bytes,
        desk_auth=desk_auth,
        pow=proof_of_work,
        today=today,
    )

    daily_purge = DailyPurge(ctx, purge_check_seconds)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Retention (server/retention.py): a purge at start, then once each new day.
        await daily_purge.run_once()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(daily_purge.run_forever)
            yield
            tasks.cancel_scope.cancel()
        db.dispose()

    app = FastAPI(
        title="Quietline",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    app.add_exception_handler(BlobStoreUnavailable, _blob_store_unavailable)
    for module in (meta, pow_routes, uploads, intake, status, followups, withdraw, desk):
        app.include_router(module.router)
    # Last, so every API route takes precedence over a file of the same name.
    app.mount("/", client_app(settings.client_dir), name="client")

    # Outermost last: headers wrap everything, including the 500 and 413 responses.
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(JsonBodyLimitMiddleware, max_bytes=settings.max_json_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


async def _blob_store_unavailable(_request, exc: BlobStoreUnavailable):
    """The object store is down or refusing after botocore's retries: the server's condition,
    like an unavailable database (503 `unavailable`); the chunk's row was not committed."""
    log.warning("unavailable (object store): %s", scrubbed_location(exc))
    return error_response(503, "unavailable", "the server's storage is unavailable; nothing was stored, try again in a moment")
