"""The desk's online sync side: pull an inbound bundle, push an outbound one."""

from collections.abc import Iterator
from typing import BinaryIO

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..context import AppContext, get_ctx
from ..errors import ApiError
from ..inbound import build_inbound
from ..outbound import apply_outbound
from ..retention import purge
from ..schemas import OutboundApplied, errors
from ..security.desk_auth import require_desk
from ..security.limits import declared_length

router = APIRouter(prefix="/api/v1/desk", tags=["desk"])

_READ = 1024 * 1024


def _stream(spool: BinaryIO) -> Iterator[bytes]:
    try:
        while data := spool.read(_READ):
            yield data
    finally:
        spool.close()


@router.get(
    "/inbound",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "an inbound bundle"}, **errors(401)},
)
def get_inbound(desk_id: str = Depends(require_desk), ctx: AppContext = Depends(get_ctx)) -> StreamingResponse:
    purge(ctx.db, ctx.blobs, ctx.settings, ctx.today())
    spool = ctx.blobs.spool()
    try:
        build_inbound(ctx, desk_id, spool)
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return StreamingResponse(_stream(spool), media_type="application/octet-stream", headers={"Content-Length": str(size)})


@router.post(
    "/outbound",
    response_model=OutboundApplied,
    responses=errors(400, 401, 403, 404, 409, 413),
    openapi_extra={
        "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}, "required": True}
    },
)
async def post_outbound(request: Request, desk_id: str = Depends(require_desk)) -> OutboundApplied:
    ctx: AppContext = request.app.state.ctx
    cap = ctx.settings.max_outbound_bundle_bytes
    length = declared_length(request.scope)
    if length == -1:
        raise ApiError(400, "bad_request", "Content-Length is malformed")
    if length is not None and length > cap:
        raise ApiError(413, "too_large", f"an outbound bundle may have at most {cap} bytes")
    spool = await run_in_threadpool(ctx.blobs.spool)
    try:
        size, pending = 0, bytearray()
        async for piece in request.stream():
            size += len(piece)
            if size > cap:
                raise ApiError(413, "too_large", f"an outbound bundle may have at most {cap} bytes")
            pending += piece
            if len(pending) >= _READ:
                await run_in_threadpool(spool.write, bytes(pending))
                pending.clear()
        await run_in_threadpool(spool.write, bytes(pending))
        applied = await run_in_threadpool(apply_outbound, ctx, desk_id, spool)
    finally:
        spool.close()
    return OutboundApplied(
        bundle_id=applied.bundle_id,
        replies_stored=applied.replies_stored,
        acks_applied=applied.acks_applied,
        replies_dropped=applied.replies_dropped,
    )
