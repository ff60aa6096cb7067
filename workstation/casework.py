"""What the focal point records about a case: its place in the workflow, verification, risk
assessments, protective measures, referrals, correspondence with the State, notes and the
next review. One `casework` vault record per case, in the case's group; the report itself
stays as imported (cases.py), so the person's words are never edited.

The workflow follows the OHCHR manual (REQUIREMENTS.md, "What the focal point does with it"):

    received → risk_assessment → verification → decision → measures → implementing → review → closed

Every change goes through workflow.py, which enforces the allowed moves and writes the audit
log; this module only defines the record and reads and writes it.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .cases import get_case
from .errors import WorkstationError
from .vault import Vault

CASEWORK = "casework"

STATES = ("received", "risk_assessment", "verification", "decision", "measures", "implementing", "review", "closed")
OPEN_STATES = STATES[:-1]
CLOSE_REASONS = ("threat_ended", "risk_acceptable", "consent_withdrawn", "contact_lost")
VERIFICATION = ("unverified", "in_progress", "verified", "not_verifiable")
MEASURES = (
    "self_protection", "protection_networks", "relocation", "visibility", "advocacy",
    "detention_visits", "trial_observation", "international_mechanisms", "other",
)
MEASURE_STATES = ("planned", "in_place", "ended")
# The focal point's own judgement of how soon to act, which outranks what the report says.
URGENCY_LEVELS = ("immediate", "high", "medium", "low")

# The record refuses a value outside these lists, whoever writes it.
State = Literal[STATES]
CloseReason = Literal[CLOSE_REASONS]
Verification = Literal[VERIFICATION]
MeasureKind = Literal[MEASURES]
MeasureState = Literal[MEASURE_STATES]
UrgencyLevel = Literal[URGENCY_LEVELS]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Transition(_Model):
    day: str
    by: str
    from_state: State
    to_state: State
    reason: str | None = None


class RiskAssessment(_Model):
    """The manual's equation, risk = threats × vulnerabilities / capacities, each scored 1–5."""

    day: str
    by: str
    threats: int = Field(ge=1, le=5)
    vulnerabilities: int = Field(ge=1, le=5)
    capacities: int = Field(ge=1, le=5)
    urgency: UrgencyLevel | None = None
    notes: str = ""

    @property
    def score(self) -> float:
        return self.threats * self.vulnerabilities / self.capacities

    @property
    def level(self) -> str:
        score = self.score
        return "critical" if score >= 12 else "high" if score >= 6 else "medium" if score >= 2.5 else "low"


class Measure(_Model):
    day: str
    by: str
    kind: MeasureKind
    status: MeasureState = "planned"
    note: str = ""


class Referral(_Model):
    day: str
    by: str
    recipient_kind: str
    recipient: str  # the recipient key's user id, as gpg reports it
    fingerprint: str  # of the OpenPGP key the export was encrypted to
    file: str  # where the encrypted file was written
    included: list[str] = []  # what the export carried: "information", "names", "media", …


class StateLetter(_Model):
    """Correspondence with the State: a letter sent, when a reply is due, when it came."""

    number: int
    sent: str
    by: str
    reply_due: str | None = None
    received: str | None = None
    note: str = ""


class Note(_Model):
    day: str
    by: str
    text: str


class Casework(_Model):
    case_id: str
    state: State = "received"
    opened: str  # the day the report was received
    closed: str | None = None
    close_reason: CloseReason | None = None
    verification: Verification = "unverified"
    risk: list[RiskAssessment] = []  # every assessment, newest last
    measures: list[Measure] = []
    referrals: list[Referral] = []
    state_letters: list[StateLetter] = []
    notes: list[Note] = []
    next_review: str | None = None
    history: list[Transition] = []
    # How many assessments existed when the case last entered risk_assessment: leaving it
    # needs a new one, so a re-assessment (review → risk_assessment) is really made.
    risk_count_at_entry: int = 0

    @property
    def is_open(self) -> bool:
        return self.state != "closed"

    @property
    def latest_risk(self) -> RiskAssessment | None:
        return self.risk[-1] if self.risk else None

    def awaiting_state(self, day: str | None = None) -> list[StateLetter]:
        """Letters the State has not answered; "State has not responded" keeps a case open.
        (`day` is accepted for older callers; every unanswered letter is awaited.)"""
        return [letter for letter in self.state_letters if letter.received is None]

    def state_reply_overdue(self, day: str) -> list[StateLetter]:
        """Unanswered letters whose reply was due before `day`."""
        return [letter for letter in self.awaiting_state() if letter.reply_due is not None and letter.reply_due < day]

    def review_overdue(self, day: str) -> bool:
        return self.is_open and self.next_review is not None and self.next_review < day


def load(vault: Vault, case_id: str) -> Casework:
    """The case's casework record; a case never worked on is `received` on its report's day."""
    data = vault.get(CASEWORK, vault.rid(CASEWORK, case_id))
    if data is not None:
        return Casework.model_validate(data)
    case = get_case(vault, case_id)
    if case is None:
        raise WorkstationError(f"no case {case_id} in the vault", code="unknown_case")
    return Casework(case_id=case_id, opened=case["day"])


def save(vault: Vault, casework: Casework) -> None:
    vault.put(CASEWORK, vault.rid(CASEWORK, casework.case_id), casework.model_dump(), group=vault.case_group(casework.case_id))
