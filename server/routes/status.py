"""A returning submitter's view of a case: its day, the desk's sealed replies, and how
many follow-ups it holds. The lookup token travels only in the POST body."""

from fastapi import APIRouter, Depends

from crypto.encoding import b64encode

from ..cases import lookup_case
from ..context import AppContext, get_ctx
from ..schemas import CaseStatus, LookupRequest, ReplyOut, errors

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


@router.post("/lookup", response_model=CaseStatus, responses=errors(400, 404, 413, 422))
def post_lookup(body: LookupRequest, ctx: AppContext = Depends(get_ctx)) -> CaseStatus:
    view = lookup_case(ctx, body.lookup)
    return CaseStatus(
        case_id=view.case_id,
        day=view.day,
        replies=[ReplyOut(seq=seq, day=day, blob=b64encode(blob)) for seq, day, blob in view.replies],
        followups=view.followups,
    )
