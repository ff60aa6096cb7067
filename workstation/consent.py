"""A case's consent as it stands now: the report's choices, changed by every follow-up in
order, and what that consent allows. Exports ask `require` before they write anything.

For an intermediary's report, the victim's own consent is recorded separately, and each
use needs both: the effective answer to a question is the more restrictive of the two. A
question nobody answered counts as no; a withdrawal makes every answer no.
"""

from dataclasses import dataclass

from crypto.report import REFERRAL_KINDS, SG_REPORT, STATE_ACTIONS, YES_NO, ConsentSet, parse_report

from .cases import FOLLOWUP
from .errors import WorkstationError
from .vault import Vault

# Each scale from most to least permissive; None (unanswered) is below all of them.
_SCALES = {
    "use_information": YES_NO,
    "use_name": YES_NO,
    "use_media": YES_NO,
    "state_action": ("public", "private", "none"),
    "sg_report": ("named", "anonymised", "none"),
}
assert set(_SCALES["state_action"]) == set(STATE_ACTIONS) and set(_SCALES["sg_report"]) == set(SG_REPORT)


def _stricter(question: str, a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    scale = _SCALES.get(question, YES_NO)
    return a if scale.index(a) >= scale.index(b) else b


@dataclass(frozen=True)
class CaseConsent:
    reporter: ConsentSet
    victim: ConsentSet | None
    intermediary: bool
    withdrawn: bool

    def effective(self) -> ConsentSet:
        """What the focal point may do: for an intermediary's report, the stricter of the
        reporter's and the victim's answers (an unrecorded victim consent is no)."""
        if self.withdrawn:
            return ConsentSet.refused()
        if not self.intermediary:
            return self.reporter
        victim = self.victim or ConsentSet()
        values = {q: _stricter(q, getattr(self.reporter, q), getattr(victim, q)) for q in _SCALES}
        referral = {}
        for kind in REFERRAL_KINDS:
            answer = _stricter("referral", self.reporter.referral.get(kind), victim.referral.get(kind))
            if answer is not None:
                referral[kind] = answer
        return ConsentSet(**values, referral=referral)


def case_consent(vault: Vault, case: dict) -> CaseConsent:
    """The consent of `case` (a vault case record) after every imported follow-up."""
    report = parse_report(case["report"])
    reporter, victim = report.consent, report.victim_consent
    withdrawn = False
    followups = sorted((f for _, f in vault.records(FOLLOWUP, group=vault.case_group(case["case_id"]))), key=lambda f: f["seq"])
    for followup in followups:
        if followup.get("consent"):
            reporter = reporter.updated(ConsentSet(**_consent_args(followup["consent"])))
        if followup.get("victim_consent"):
            victim = (victim or ConsentSet()).updated(ConsentSet(**_consent_args(followup["victim_consent"])))
        withdrawn = withdrawn or bool(followup.get("withdraw"))
    return CaseConsent(reporter, victim, report.reporter_role == "intermediary", withdrawn)


def _consent_args(data: dict) -> dict:
    return {**data, "referral": dict(data.get("referral", {}))}


class ConsentMissing(WorkstationError):
    """An export the case's consent does not allow; the message says which consent."""

    def __init__(self, missing: str):
        super().__init__(f"the case's consent does not allow this: {missing}", code="consent_missing")
        self.missing = missing
