"""A returning submitter's view of a case: its day, the desk's sealed replies, and how
many follow-ups it holds. The lookup token travels only in the POST body."""

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from crypto.encoding import b64encode

from ..cases import lookup_case
from ..context import AppContext, get_ctx
from ..padding import padded_json
from ..schemas import CaseStatus, LookupRequest, ReplyOut, errors

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


@router.post("/lookup", response_model=CaseStatus, responses=errors(400, 413, 422))
def post_lookup(body: LookupRequest, ctx: AppContext = Depends(get_ctx)) -> Response:
    """200 for every well-formed lookup, known case or not, padded to a fixed size bucket.
    Never compressed: the API is routed outside the gzip-compressed static mount."""
    view = lookup_case(ctx, body.lookup)
    status = CaseStatus(
        found=view.found,
        case_id=view.case_id,
        day=view.day,
        followups=view.followups,
        replies=[ReplyOut(seq=seq, day=day, blob=b64encode(blob)) for seq, day, blob in view.replies],
        pad="",
    )
    content = status.model_dump(mode="json")
    del content["pad"]
    return Response(padded_json(content), media_type="application/json")
