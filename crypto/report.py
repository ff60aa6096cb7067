"""The structured report and the consent it carries (docs/PROTOCOL.md, "Report schema").

A report's fields are checked in one fixed order (the order of `REPORT_FIELDS`), so the
first problem found is the same here and in client_web/js/report_schema.js, and both sides
pass the vectors in tests/vectors/report.json. Every field but `schema` and `country` may
be left out: a person may skip any question. An unanswered consent question is no consent.
"""

import re
from dataclasses import dataclass, field, fields
from typing import Any, Callable

from .encoding import is_int
from .errors import ProtocolError

SCHEMA = "quietline.report/2"

# ISO 3166-1 alpha-2, plus XK (Kosovo, a user-assigned code the UN system also uses).
COUNTRIES = tuple(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
    DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU
    GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW
    KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU
    MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT
    ZA ZM ZW""".split()
)

# Taxonomies from REQUIREMENTS.md ("What a report carries"), each value a stable code; the
# browser shows them through its language catalogues, the workstation by code.
ENGAGEMENTS = ("cooperated", "sought_to_cooperate")
UN_BODIES = (
    "hrc_session", "upr", "special_procedure", "country_visit", "treaty_body",
    "ohchr_field_presence", "un_country_team", "peace_mission", "other",
)
TIMINGS = (
    "before_travel", "while_travelling", "during_session", "after_returning",
    "during_country_visit", "after_country_visit", "other",
)
REPRISAL_TYPES = (
    "killing", "physical_attack", "arbitrary_detention", "enforced_disappearance", "raid",
    "criminal_prosecution", "defamation_charges", "travel_ban", "deregistration_funding",
    "surveillance", "online_harassment", "smear_campaign", "threats_to_family", "intimidation",
    "other",
)
PERPETRATORS = (
    "police", "military", "intelligence", "ministry", "other_state_agent", "armed_group",
    "company", "community_religious", "civil_society", "unknown", "other",
)
RELATIONS = ("self", "relative", "colleague", "organisation", "other")
REPORTER_ROLES = ("victim", "witness", "intermediary")
URGENCIES = ("detained", "missing", "imminent_threat", "upcoming_date")
GROUPS = (
    "whrd", "lgbti", "indigenous", "minority", "journalist", "environment_land", "migrant",
    "disability", "youth", "trade_union", "other",
)
REMEDIES = ("yes", "no", "not_possible")

YES_NO = ("yes", "no")
STATE_ACTIONS = ("none", "private", "public")
SG_REPORT = ("named", "anonymised", "none")
REFERRAL_KINDS = ("national_protection", "nhri", "unhcr", "un_bodies", "ngos", "lawyers")

MAX_AFFECTED = 50
SHORT, MEDIUM, LONG, ACCOUNT = 200, 1000, 5000, 100_000  # limits in Unicode code points

PARTIAL_DATE = re.compile(r"[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?")  # always fullmatch
FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class SchemaError(ProtocolError):
    """A report or follow-up that does not follow the schema; `path` names the field
    (`consent.referral.nhri`, `affected.0.relation`), the same on both sides."""

    def __init__(self, code: str, path: str, reason: str):
        super().__init__(code, f"{path or '(the whole value)'}: {reason}")
        self.path = path
        self.reason = reason


# -- value checks: each returns the value or raises SchemaError(code, path, reason) ------------

Check = Callable[[Any, str, str], Any]


def _text(limit: int) -> Check:
    def check(value, path, code):
        if not isinstance(value, str):
            raise SchemaError(code, path, "must be text")
        if len(value) > limit:  # Python counts code points, as the browser must
            raise SchemaError(code, path, f"must be at most {limit} characters")
        return value
    return check


def _choice(options: tuple[str, ...]) -> Check:
    def check(value, path, code):
        if not isinstance(value, str) or value not in options:
            raise SchemaError(code, path, f"must be one of {', '.join(options)}")
        return value
    return check


def _choices(options: tuple[str, ...]) -> Check:
    one = _choice(options)

    def check(value, path, code):
        if not isinstance(value, list):
            raise SchemaError(code, path, "must be a list")
        seen = []
        for i, item in enumerate(value):
            one(item, f"{path}.{i}", code)
            if item in seen:
                raise SchemaError(code, f"{path}.{i}", "is listed twice")
            seen.append(item)
        return tuple(value)
    return check


def _valid_day(year: int, month: int, day: int) -> bool:
    if not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    return 1 <= day <= days


def _date(full: bool) -> Check:
    pattern = FULL_DATE if full else PARTIAL_DATE
    shape = "YYYY-MM-DD" if full else "YYYY, YYYY-MM or YYYY-MM-DD"

    def check(value, path, code):
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise SchemaError(code, path, f"must be a date written {shape}")
        parts = [int(p) for p in value.split("-")]
        year, month, day = parts[0], (parts[1:2] or [1])[0], (parts[2:3] or [1])[0]
        if year < 1945 or not _valid_day(year, month, day):
            raise SchemaError(code, path, "is not a date in the calendar")
        return value
    return check


def _object(table: tuple[tuple[str, Check], ...], value, path: str, code: str, *, required=()) -> dict:
    """Check an object against `table`: unknown keys first (in sorted order), then each
    field in table order. Returns the checked values by name (absent fields left out)."""
    if not isinstance(value, dict):
        raise SchemaError(code, path, "must be an object")
    known = {name for name, _ in table}
    for key in sorted(value):
        if key not in known:
            raise SchemaError(code, _join(path, key), "is not a field of this schema")
    out = {}
    for name, check in table:
        where = _join(path, name)
        if name not in value:
            if name in required:
                raise SchemaError(code, where, "is required")
            continue
        out[name] = check(value[name], where, code)
    return out


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# -- consent ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentSet:
    """One person's consent choices. None means the question was not answered, which the
    workstation treats exactly as no."""

    use_information: str | None = None
    use_name: str | None = None
    use_media: str | None = None
    state_action: str | None = None
    sg_report: str | None = None
    referral: dict[str, str] = field(default_factory=dict)  # kind -> "yes" | "no"

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "referral" and getattr(self, f.name)}
        if self.referral:
            out["referral"] = dict(sorted(self.referral.items()))
        return out

    def updated(self, change: "ConsentSet") -> "ConsentSet":
        """This set with every question `change` answers replaced: how a follow-up changes
        consent (a question it leaves out stays as it was)."""
        values = {f.name: getattr(change, f.name) or getattr(self, f.name) for f in fields(self) if f.name != "referral"}
        return ConsentSet(**values, referral={**self.referral, **change.referral})

    @classmethod
    def refused(cls) -> "ConsentSet":
        """Every question answered no: what withdrawing leaves."""
        return cls("no", "no", "no", "none", "none", {kind: "no" for kind in REFERRAL_KINDS})


def _referral(value, path, code):
    checked = _object(tuple((kind, _choice(YES_NO)) for kind in REFERRAL_KINDS), value, path, code)
    return dict(checked)


CONSENT_FIELDS: tuple[tuple[str, Check], ...] = (
    ("use_information", _choice(YES_NO)),
    ("use_name", _choice(YES_NO)),
    ("use_media", _choice(YES_NO)),
    ("state_action", _choice(STATE_ACTIONS)),
    ("sg_report", _choice(SG_REPORT)),
    ("referral", _referral),
)


def _consent(value, path, code) -> ConsentSet:
    return ConsentSet(**_object(CONSENT_FIELDS, value, path, code))


# -- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    relation: str
    name: str = ""
    detail: str = ""


def _affected(value, path, code) -> tuple[Person, ...]:
    if not isinstance(value, list):
        raise SchemaError(code, path, "must be a list")
    if len(value) > MAX_AFFECTED:
        raise SchemaError(code, path, f"must list at most {MAX_AFFECTED} people")
    table = (("relation", _choice(RELATIONS)), ("name", _text(SHORT)), ("detail", _text(MEDIUM)))
    return tuple(Person(**_object(table, item, f"{path}.{i}", code, required=("relation",))) for i, item in enumerate(value))


def _schema(value, path, code):
    # A SchemaError, so the refusal has a path ("schema") like every other; only a string is
    # shown, since str() of an arbitrary nested value could be huge.
    if value != SCHEMA:
        shown = repr(value[:40]) if isinstance(value, str) else type(value).__name__
        raise SchemaError("unsupported_version", path, f"report schema {shown} is not supported")
    return value


REPORT_FIELDS: tuple[tuple[str, Check], ...] = (
    ("schema", _schema),
    ("country", _choice(COUNTRIES)),
    ("place", _text(SHORT)),
    ("date", _date(full=False)),
    ("engagement", _choice(ENGAGEMENTS)),
    ("un_bodies", _choices(UN_BODIES)),
    ("un_body_detail", _text(MEDIUM)),
    ("timing", _choices(TIMINGS)),
    ("reprisal_types", _choices(REPRISAL_TYPES)),
    ("perpetrators", _choices(PERPETRATORS)),
    ("perpetrator_detail", _text(MEDIUM)),
    ("reporter_role", _choice(REPORTER_ROLES)),
    ("reporter_name", _text(SHORT)),
    ("organisation", _text(SHORT)),
    ("affected", _affected),
    ("urgency", _choices(URGENCIES)),
    ("upcoming_date", _date(full=True)),
    ("urgency_detail", _text(MEDIUM)),
    ("gender", _text(SHORT)),
    ("groups", _choices(GROUPS)),
    ("remedies", _choice(REMEDIES)),
    ("remedies_outcome", _text(LONG)),
    ("text", _text(ACCOUNT)),
    ("consent", _consent),
    ("victim_consent", _consent),
)


@dataclass(frozen=True)
class Report:
    """A checked report (`parse_report`). Lists are tuples; text left out is ""."""

    country: str
    place: str = ""
    date: str = ""
    engagement: str | None = None
    un_bodies: tuple[str, ...] = ()
    un_body_detail: str = ""
    timing: tuple[str, ...] = ()
    reprisal_types: tuple[str, ...] = ()
    perpetrators: tuple[str, ...] = ()
    perpetrator_detail: str = ""
    reporter_role: str | None = None
    reporter_name: str = ""
    organisation: str = ""
    affected: tuple[Person, ...] = ()
    urgency: tuple[str, ...] = ()
    upcoming_date: str = ""
    urgency_detail: str = ""
    gender: str = ""
    groups: tuple[str, ...] = ()
    remedies: str | None = None
    remedies_outcome: str = ""
    text: str = ""
    consent: ConsentSet = field(default_factory=ConsentSet)
    victim_consent: ConsentSet | None = None


def parse_report(value: Any) -> Report:
    """Check a report object (the `report` of a report envelope's body) and return it typed.
    Raises SchemaError("bad_report", path, …), or SchemaError("unsupported_version", "schema", …)."""
    # The schema is looked at first, so a report of another version says so, whatever it holds.
    if isinstance(value, dict) and "schema" in value:
        _schema(value["schema"], "schema", "bad_report")
    checked = _object(REPORT_FIELDS, value, "", "bad_report", required=("schema", "country"))
    # An intermediary records the victim's own consent apart from their own; nobody else does.
    if "victim_consent" in checked and checked.get("reporter_role") != "intermediary":
        raise SchemaError("bad_report", "victim_consent", "is given only when the reporter is an intermediary")
    del checked["schema"]
    return Report(**checked)


# -- follow-ups ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowupUpdate:
    """What a follow-up changes besides adding text and files: consent questions it
    answers (others stay as they were), and whether the person withdraws."""

    consent: ConsentSet | None = None
    victim_consent: ConsentSet | None = None
    withdraw: bool = False


def _true(value, path, code):
    if value is not True:
        raise SchemaError(code, path, "must be true when present")
    return True


FOLLOWUP_FIELDS: tuple[tuple[str, Check], ...] = (
    ("v", lambda value, path, code: value),  # checked by the envelope reader
    ("kind", lambda value, path, code: value),
    ("case_id", lambda value, path, code: value),
    ("id", lambda value, path, code: value),
    ("day", lambda value, path, code: value),
    ("text", _text(ACCOUNT)),
    ("attachments", lambda value, path, code: value),  # descriptors: checked with the uploads
    ("consent", _consent),
    ("victim_consent", _consent),
    ("withdraw", _true),
)


def parse_followup_update(body: Any) -> FollowupUpdate:
    """Check a follow-up body's fields against the schema; raises SchemaError("bad_followup")."""
    checked = _object(FOLLOWUP_FIELDS, body, "", "bad_followup", required=("text",))
    return FollowupUpdate(checked.get("consent"), checked.get("victim_consent"), checked.get("withdraw", False))
