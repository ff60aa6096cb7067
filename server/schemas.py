"""Request and response bodies (docs/API.md). Requests refuse unknown fields and coerce
nothing: a string is not a number here."""

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Proof(_Request):
    """A proof of work (docs/PROTOCOL.md, "Proof of work")."""

    challenge: StrictStr = Field(description="b64 of the challenge from GET /api/v1/pow, as received")
    nonce: StrictInt = Field(description="the counter that does the work, 0 to 2^53 - 1")


PROOF = "proof of work bound to this request; without it 400 pow_required"


class PowChallenge(BaseModel):
    challenge: str = Field(description="b64 of the signed challenge")
    difficulty: int = Field(description="leading zero bits the work must have (also inside the challenge)")
    expires_in: int = Field(description="seconds until the challenge expires")


class UploadCreate(_Request):
    chunks: StrictInt = Field(description="chunk count: a bucket (1, 2, 3, 4, 6, 8, 12, ...), at most max_chunks")
    resume: StrictStr | None = Field(default=None, description="b64 of the 32-byte resume handle (with header)")
    header: StrictStr | None = Field(default=None, description="b64 of the 24-byte stream header (with resume)")
    proof: Proof | None = Field(default=None, description=PROOF)


class UploadResume(_Request):
    resume: StrictStr = Field(description="b64 of the 32-byte resume handle")


class UploadCreated(BaseModel):
    upload_id: str
    chunks: int
    chunk_bytes: int


class UploadStatus(BaseModel):
    upload_id: str
    chunks: int
    received: list[int]


class UploadResumed(BaseModel):
    upload_id: str
    chunks: int
    received: list[int]
    header: str = Field(description="b64 of the stream's 24-byte header")


class CaseCreate(_Request):
    lookup: StrictStr = Field(description="b64 of the 32-byte lookup token")
    envelope: StrictStr = Field(description="b64 of a report envelope")
    uploads: list[StrictStr] = Field(default_factory=list, description="upload ids this report names")
    proof: Proof | None = Field(default=None, description=PROOF)


class FollowupCreate(_Request):
    lookup: StrictStr
    envelope: StrictStr = Field(description="b64 of a follow-up envelope")
    uploads: list[StrictStr] = Field(default_factory=list)
    proof: Proof | None = Field(default=None, description=PROOF)


class LookupRequest(_Request):
    lookup: StrictStr


class CaseCreated(BaseModel):
    case_id: str
    day: date


class FollowupCreated(BaseModel):
    seq: int
    day: date


class WithdrawRequest(_Request):
    lookup: StrictStr
    envelope: StrictStr = Field(description='b64 of a follow-up envelope whose body has "withdraw": true')


class Withdrawn(BaseModel):
    day: date


class ReplyOut(BaseModel):
    seq: int
    day: date
    blob: str = Field(description="b64 of the sealed reply")


class CaseStatus(BaseModel):
    """The same shape and byte length for an unknown case, a case without replies and one
    with a few (docs/API.md): `pad` fills the body to its size bucket."""

    found: bool = Field(description="false for an unknown case: then day is today, followups 0, replies []")
    case_id: str = Field(description="hex BLAKE2b of the lookup, found or not")
    day: date
    followups: int
    replies: list[ReplyOut]
    pad: str = Field(description="ASCII zeros that bring the body to 64 KiB x 2^k bytes")


class OutboundApplied(BaseModel):
    bundle_id: str
    replies_stored: int
    acks_applied: int
    replies_dropped: int = Field(0, description="replies to cases the server no longer holds (withdrawn or expired)")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


def errors(*statuses: int) -> dict:
    """OpenAPI `responses` entries for the error statuses a route can answer."""
    return {status: {"model": ErrorBody} for status in statuses}
