"""A case's consent as it stands now: the report's choices, changed by every follow-up in
order, and what that consent allows. Exports ask `require` before they write anything.

For an intermediary's report, the victim's own consent is recorded separately, and each
use needs both: the effective answer to a question is the more restrictive of the two. A
question nobody answered counts as no; a withdrawal makes every answer no.
"""

from dataclasses import dataclass

from crypto.report import REFERRAL_KINDS, SG_REPORT, STATE_ACTIONS, YES_NO, ConsentSet, parse_report

from .cases import FOLLOWUP
from .casework import Casework
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
    """An export the case's consent does not allow; the message says which consent, and
    (when known) why: not answered, refused, refused by the victim, or withdrawn."""

    def __init__(self, missing: str, reason: str | None = None):
        why = f" ({reason})" if reason else ""
        super().__init__(f"the case's consent does not allow this: {missing}{why}", code="consent_missing")
        self.missing = missing
        self.reason = reason


# -- what each export needs -----------------------------------------------------------------
#
# Every check reads the EFFECTIVE consent (withdrawal, and the stricter of an intermediary's
# and the victim's answers), so no export can take a more permissive answer by mistake.

REFERRAL_LABELS = {
    "national_protection": "a national protection mechanism",
    "nhri": "a national human rights institution",
    "unhcr": "UNHCR",
    "un_bodies": "other UN bodies",
    "ngos": "NGOs",
    "lawyers": "lawyers' networks",
}
assert set(REFERRAL_LABELS) == set(REFERRAL_KINDS)

INFORMATION = "use of the information"
NAMES = "use of names"
MEDIA = "use of photos and media"
SG_LIST = "inclusion in the Secretary-General's report"
SG_NAMED = "naming in the Secretary-General's report"


def referral_label(kind: str) -> str:
    """The plain words for a referral consent, with its code so the focal point can match
    it to `--kind`: "referral to a national human rights institution (nhri)"."""
    return f"referral to {REFERRAL_LABELS[kind]} ({kind})"


def _answer(consent: ConsentSet | None, question: str, kind: str | None) -> str | None:
    if consent is None:
        return None
    return consent.referral.get(kind) if kind is not None else getattr(consent, question)


def _reason(case: CaseConsent, question: str, kind: str | None = None) -> str:
    """Why the effective answer is not the one needed, in the words the focal point would use."""
    if case.withdrawn:
        return "consent was withdrawn"
    people = [("reporter", case.reporter)]
    if case.intermediary:
        people.append(("victim", case.victim))
    for who, consent in people:
        answer = _answer(consent, question, kind)
        if answer is None:
            return f"the {who} did not answer" if case.intermediary else "not answered"
        if answer in ("no", "none"):
            return f"the {who} said no" if case.intermediary else "refused"
    return "only anonymised" if question == "sg_report" else "refused"


def require_not_closed_for_withdrawal(work: Casework) -> None:
    """A case the focal point closed because the person withdrew (however they said so)
    is used for nothing, whatever the recorded answers still say."""
    if work.state == "closed" and work.close_reason == "consent_withdrawn":
        raise ConsentMissing("any use of the case", "the case was closed because consent was withdrawn")


def require_information(case: CaseConsent) -> None:
    """Any use of the report beyond the focal point's own reading."""
    if case.effective().use_information != "yes":
        raise ConsentMissing(INFORMATION, _reason(case, "use_information"))


def require_names(case: CaseConsent) -> None:
    if case.effective().use_name != "yes":
        raise ConsentMissing(NAMES, _reason(case, "use_name"))


def require_media(case: CaseConsent) -> None:
    if case.effective().use_media != "yes":
        raise ConsentMissing(MEDIA, _reason(case, "use_media"))


def require_referral(case: CaseConsent, kind: str) -> None:
    if kind not in REFERRAL_KINDS:
        raise WorkstationError(f"unknown referral kind {kind!r} (one of {', '.join(REFERRAL_KINDS)})", code="bad_referral_kind")
    if case.effective().referral.get(kind) != "yes":
        raise ConsentMissing(referral_label(kind), _reason(case, "referral", kind))


def require_sg_report(case: CaseConsent) -> str:
    """Inclusion in the Secretary-General's annual report; returns "named" or "anonymised"."""
    answer = case.effective().sg_report
    if answer not in ("named", "anonymised"):
        raise ConsentMissing(SG_LIST, _reason(case, "sg_report"))
    return answer


def allows_names_in_sg_report(case: CaseConsent) -> bool:
    """Names appear in the Secretary-General's report only when the person chose "named"
    AND allows the use of names: both questions must say so."""
    effective = case.effective()
    return effective.sg_report == "named" and effective.use_name == "yes"
