"""Proof-of-work challenges (docs/PROTOCOL.md, "Proof of work"): stateless, signed, short-lived."""

from fastapi import APIRouter, Depends, Query

from crypto import pow as pw
from crypto.encoding import b64encode

from ..context import AppContext, get_ctx
from ..errors import ApiError
from ..schemas import PowChallenge, errors

router = APIRouter(prefix="/api/v1", tags=["proof of work"])


@router.get("/pow", response_model=PowChallenge, responses=errors(400))
def get_challenge(
    # The enum is only described: any other value (or none) is our 400 bad_purpose, not a 422.
    purpose: str | None = Query(None, description="what the proof will pay for",
                                json_schema_extra={"enum": list(pw.PURPOSES)}),
    ctx: AppContext = Depends(get_ctx),
) -> PowChallenge:
    """A challenge for one report, follow-up or upload (`purpose=report|followup|upload`)."""
    if purpose not in pw.PURPOSES:
        raise ApiError(400, "bad_purpose", "purpose must be report, followup or upload")
    issued = ctx.pow.issue(pw.PURPOSES[purpose])
    return PowChallenge(challenge=b64encode(issued.challenge), difficulty=issued.difficulty, expires_in=issued.expires_in)
