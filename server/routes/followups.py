"""Follow-ups from a returning submitter."""

from fastapi import APIRouter, Depends

from crypto import pow as pw

from ..cases import file_followup
from ..context import AppContext, get_ctx
from ..proofs import followup_binding
from ..schemas import FollowupCreate, FollowupCreated, errors

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


@router.post("/followups", status_code=201, response_model=FollowupCreated, responses=errors(400, 404, 409, 413, 422, 429, 507))
def post_followup(body: FollowupCreate, ctx: AppContext = Depends(get_ctx)) -> FollowupCreated:
    ctx.pow.check(body.proof, pw.FOLLOWUP, lambda: followup_binding(ctx, body.lookup, body.envelope))
    filed = file_followup(ctx, body.lookup, body.envelope, body.uploads)
    ctx.pow.spent()
    return FollowupCreated(seq=filed.seq, day=filed.day)
