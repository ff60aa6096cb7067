"""New reports."""

from fastapi import APIRouter, Depends

from crypto import pow as pw

from ..cases import file_report
from ..context import AppContext, get_ctx
from ..proofs import report_binding
from ..schemas import CaseCreate, CaseCreated, errors

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


@router.post("", status_code=201, response_model=CaseCreated, responses=errors(400, 404, 409, 413, 422, 507))
def post_case(body: CaseCreate, ctx: AppContext = Depends(get_ctx)) -> CaseCreated:
    ctx.pow.check(body.proof, pw.REPORT, lambda: report_binding(body.lookup))
    filed = file_report(ctx, body.lookup, body.envelope, body.uploads)
    ctx.pow.spent()
    return CaseCreated(case_id=filed.case_id, day=filed.day)
