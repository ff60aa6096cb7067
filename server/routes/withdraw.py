"""Withdrawal: the case is deleted from the server at once (server/withdrawals.py)."""

from fastapi import APIRouter, Depends

from ..context import AppContext, get_ctx
from ..schemas import WithdrawRequest, Withdrawn, errors
from ..withdrawals import withdraw_case

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


@router.post("/withdraw", response_model=Withdrawn, responses=errors(400, 404, 413, 422))
def post_withdraw(body: WithdrawRequest, ctx: AppContext = Depends(get_ctx)) -> Withdrawn:
    """Deletes the case, its replies, follow-ups and uploads, and keeps the sealed withdrawal
    for the desk under a random id that names no case."""
    return Withdrawn(day=withdraw_case(ctx, body.lookup, body.envelope))
