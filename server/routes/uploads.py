"""Attachment uploads: create, send chunks (streamed, capped at one chunk), resume."""

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from crypto import pow as pw
from crypto.attachment import CHUNK_CIPHERTEXT

from ..context import AppContext, get_ctx
from ..errors import ApiError
from ..proofs import upload_binding
from ..schemas import UploadCreate, UploadCreated, UploadResume, UploadResumed, UploadStatus, errors
from ..security.limits import declared_length
from ..uploads import check_chunk_size, check_chunk_target, create_upload, find_resumable, store_chunk, upload_state

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])

_OCTETS = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}, "required": True}


@router.post("", status_code=201, response_model=UploadCreated, responses=errors(400, 409, 413, 422, 507))
def post_upload(body: UploadCreate, ctx: AppContext = Depends(get_ctx)) -> UploadCreated:
    verified = ctx.pow.check(body.proof, pw.UPLOAD, lambda: upload_binding(body.resume))
    state = create_upload(ctx, body.chunks, body.resume, body.header, upload_id=verified.upload_id)
    ctx.pow.spent()
    return UploadCreated(upload_id=state.upload_id, chunks=state.chunks, chunk_bytes=CHUNK_CIPHERTEXT)


@router.post("/resume", response_model=UploadResumed, responses=errors(400, 404, 422))
def post_resume(body: UploadResume, ctx: AppContext = Depends(get_ctx)) -> UploadResumed:
    """The unfiled upload made with this `resume` handle (POST: the handle is never in a URL)."""
    state = find_resumable(ctx, body.resume)
    return UploadResumed(upload_id=state.upload_id, chunks=state.chunks, received=state.received, header=state.header)


@router.put(
    "/{upload_id}/chunks/{index}",
    status_code=204,
    response_class=Response,
    responses=errors(400, 404, 409, 422),
    openapi_extra={"requestBody": _OCTETS},
)
async def put_chunk(upload_id: str, index: int, request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    await run_in_threadpool(check_chunk_target, ctx, upload_id, index)
    length = declared_length(request.scope)
    if length == -1:
        raise ApiError(400, "bad_request", "Content-Length is malformed")
    if length is not None:
        check_chunk_size(length)
    data = bytearray()
    async for piece in request.stream():
        data += piece
        if len(data) > CHUNK_CIPHERTEXT:
            check_chunk_size(len(data))  # raises: never hold more than one chunk
    await run_in_threadpool(store_chunk, ctx, upload_id, index, bytes(data))
    return Response(status_code=204)


@router.get("/{upload_id}", response_model=UploadStatus, responses=errors(404))
def get_upload(upload_id: str, ctx: AppContext = Depends(get_ctx)) -> UploadStatus:
    state = upload_state(ctx, upload_id)
    return UploadStatus(upload_id=state.upload_id, chunks=state.chunks, received=state.received)
