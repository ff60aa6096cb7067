"""What each request's proof of work is bound to (docs/PROTOCOL.md, "Proof of work"), from the
request's own fields. A field that cannot be read refuses the request with its usual error."""

from crypto import pow as pw
from crypto.kdf import case_id as case_id_of
from crypto.upload import RESUME_BYTES

from .cases import check_envelope, decode_lookup
from .context import AppContext
from .uploads import _decode


def report_binding(lookup_b64: str) -> bytes:
    return pw.report_binding(case_id_of(decode_lookup(lookup_b64)))


def followup_binding(ctx: AppContext, lookup_b64: str, envelope_b64: str) -> bytes:
    return pw.followup_binding(case_id_of(decode_lookup(lookup_b64)), check_envelope(ctx, envelope_b64, "followup"))


def upload_binding(resume_b64: str | None) -> bytes:
    if resume_b64 is None:
        return pw.NO_RESUME
    return pw.upload_binding(_decode(resume_b64, RESUME_BYTES, "resume"))
