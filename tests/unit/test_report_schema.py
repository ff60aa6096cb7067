"""crypto.report: the structured report schema, its consent, and follow-up consent changes.

The shared vectors (tests/vectors/report.json) pin the refusals both implementations give;
these tests cover what only Python has (ConsentSet.updated and refused, the dataclasses) and
run random reports and random junk through the parser.
"""

import dataclasses
import datetime
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from crypto import report as R
from crypto.encoding import json_bytes, json_load
from crypto.errors import ProtocolError
from crypto.report import ConsentSet, FollowupUpdate, Person, Report, SchemaError, parse_followup_update, parse_report

TAXONOMIES = {
    "COUNTRIES": R.COUNTRIES, "ENGAGEMENTS": R.ENGAGEMENTS, "UN_BODIES": R.UN_BODIES, "TIMINGS": R.TIMINGS,
    "REPRISAL_TYPES": R.REPRISAL_TYPES, "PERPETRATORS": R.PERPETRATORS, "RELATIONS": R.RELATIONS,
    "REPORTER_ROLES": R.REPORTER_ROLES, "URGENCIES": R.URGENCIES, "GROUPS": R.GROUPS, "REMEDIES": R.REMEDIES,
    "YES_NO": R.YES_NO, "STATE_ACTIONS": R.STATE_ACTIONS, "SG_REPORT": R.SG_REPORT, "REFERRAL_KINDS": R.REFERRAL_KINDS,
}
ASTRAL = "😀"  # one code point, two UTF-16 units


def minimal(**fields) -> dict:
    return {"schema": R.SCHEMA, "country": "FR", **fields}


def refusal(fn, *args) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        fn(*args)
    return info.value


def refused_at(value, path: str, code: str = "bad_report") -> SchemaError:
    err = refusal(parse_report, value)
    assert (err.code, err.path) == (code, path), err
    return err


# ---------------------------------------------------------------- taxonomies


@pytest.mark.parametrize("name", TAXONOMIES)
def test_taxonomy_values_are_unique_stable_codes(name):
    values = TAXONOMIES[name]
    assert isinstance(values, tuple) and values
    assert len(set(values)) == len(values)
    assert all(isinstance(v, str) and v == v.strip() and v for v in values)


def test_countries_are_the_assigned_alpha_2_codes_and_kosovo():
    assert len(R.COUNTRIES) == 250  # 249 assigned + XK
    assert list(R.COUNTRIES) == sorted(R.COUNTRIES)
    assert all(len(c) == 2 and c.isascii() and c.isupper() for c in R.COUNTRIES)
    assert {"XK", "PS", "TW", "EH", "FR", "ZW"} <= set(R.COUNTRIES)
    assert not {"XX", "UK", "EU", "AN", "YU"} & set(R.COUNTRIES)


# ---------------------------------------------------------------- partial reports


def test_minimal_report_has_every_default():
    assert parse_report(minimal()) == Report(country="FR")
    r = parse_report(minimal())
    assert r.consent == ConsentSet() and r.consent.referral == {} and r.victim_consent is None
    assert (r.place, r.un_bodies, r.engagement, r.affected) == ("", (), None, ())


ONE_FIELD = [
    ("place", "Goma", "Goma"),
    ("date", "2024", "2024"),
    ("date", "2024-03", "2024-03"),
    ("date", "2024-02-29", "2024-02-29"),
    ("engagement", "sought_to_cooperate", "sought_to_cooperate"),
    ("un_bodies", ["treaty_body", "upr"], ("treaty_body", "upr")),
    ("un_body_detail", "CEDAW", "CEDAW"),
    ("timing", ["before_travel"], ("before_travel",)),
    ("reprisal_types", ["travel_ban", "surveillance"], ("travel_ban", "surveillance")),
    ("perpetrators", ["company"], ("company",)),
    ("perpetrator_detail", "a mining company", "a mining company"),
    ("reporter_role", "witness", "witness"),
    ("reporter_name", "Nadia", "Nadia"),
    ("organisation", "Centre", "Centre"),
    ("affected", [{"relation": "self"}], (Person("self"),)),
    ("affected", [{"relation": "relative", "name": "Ali", "detail": "son"}], (Person("relative", "Ali", "son"),)),
    ("urgency", ["missing"], ("missing",)),
    ("upcoming_date", "2027-01-15", "2027-01-15"),
    ("urgency_detail", "hearing", "hearing"),
    ("gender", "femme", "femme"),
    ("groups", ["indigenous"], ("indigenous",)),
    ("remedies", "no", "no"),
    ("remedies_outcome", "nothing", "nothing"),
    ("text", "什么", "什么"),
    ("consent", {"use_name": "no"}, ConsentSet(use_name="no")),
    ("consent", {"referral": {"nhri": "yes"}}, ConsentSet(referral={"nhri": "yes"})),
]


@pytest.mark.parametrize("name,value,parsed", ONE_FIELD, ids=lambda x: x if isinstance(x, str) else None)
def test_each_field_alone(name, value, parsed):
    r = parse_report(minimal(**{name: value}))
    assert getattr(r, name) == parsed
    # Every other field keeps its default.
    assert dataclasses.replace(r, **{name: getattr(Report(country="FR"), name)}) == Report(country="FR")


def test_victim_consent_with_an_intermediary():
    r = parse_report(minimal(reporter_role="intermediary", consent={"use_name": "yes"}, victim_consent={"use_name": "no"}))
    assert r.consent.use_name == "yes" and r.victim_consent == ConsentSet(use_name="no")


def test_lists_come_back_as_tuples_in_the_order_given():
    r = parse_report(minimal(groups=["youth", "whrd"], affected=[{"relation": "other"}, {"relation": "self"}]))
    assert r.groups == ("youth", "whrd")
    assert [p.relation for p in r.affected] == ["other", "self"]


def test_text_limits_count_code_points():
    for name, limit in [("place", R.SHORT), ("un_body_detail", R.MEDIUM), ("remedies_outcome", R.LONG)]:
        assert getattr(parse_report(minimal(**{name: ASTRAL * limit})), name) == ASTRAL * limit
        refused_at(minimal(**{name: ASTRAL * (limit + 1)}), name)
        refused_at(minimal(**{name: "a" * (limit + 1)}), name)
    parse_report(minimal(text="a" * R.ACCOUNT))
    refused_at(minimal(text="a" * (R.ACCOUNT + 1)), "text")
    # A lone surrogate (which JSON can carry) is one code point, in Python as in the browser.
    assert parse_report(minimal(place="\ud800" * R.SHORT)).place == "\ud800" * R.SHORT


@pytest.mark.parametrize("date", ["1945", "1945-01", "1945-01-01", "2000-02-29", "2024-02-29", "2023-12-31", "9999-12-31"])
def test_partial_dates_accepted(date):
    assert parse_report(minimal(date=date)).date == date


@pytest.mark.parametrize("date", ["2023-02-29", "1900-02-29", "2100-02-29", "1900", "1944", "1944-12-31", "0000",
                                  "2024-13", "2024-00", "2024-1", "2024-01-1", "2024-01-00", "2024-06-31", "24", "2024-",
                                  "2024-01-01-01", "2024\n", "\n2024", "２０２４", "٢٠٢٤", "2024-01-01 ", "+2024", ""])
def test_bad_dates_refused(date):
    refused_at(minimal(date=date), "date")


def test_upcoming_date_must_be_a_full_day():
    assert parse_report(minimal(upcoming_date="2026-12-01")).upcoming_date == "2026-12-01"
    for bad in ["2026-12", "2026", "2026-02-30", 20261201]:
        refused_at(minimal(upcoming_date=bad), "upcoming_date")


# ---------------------------------------------------------------- refusals


BAD = [
    ("not an object", [], ""),
    ("not an object", None, ""),
    ("schema missing", {"country": "FR"}, "schema"),
    ("country missing", {"schema": R.SCHEMA}, "country"),
    ("unknown key", minimal(extra=1), "extra"),
    ("__proto__", minimal(__proto__=None), "__proto__"),
    ("unknown keys in code point order", minimal(**{ASTRAL: 1, "\uff5e": 1}), "\uff5e"),
    ("unknown key before fields", minimal(country=1, a=1), "a"),
    ("country", minimal(country="fr"), "country"),
    ("place type", minimal(place=1), "place"),
    ("engagement", minimal(engagement="no"), "engagement"),
    ("un_bodies not a list", minimal(un_bodies="upr"), "un_bodies"),
    ("un_bodies twice", minimal(un_bodies=["upr", "upr"]), "un_bodies.1"),
    ("timing unknown", minimal(timing=["x"]), "timing.0"),
    ("reprisal_types item type", minimal(reprisal_types=[{}]), "reprisal_types.0"),
    ("perpetrators", minimal(perpetrators=["unknown", "state"]), "perpetrators.1"),
    ("perpetrator_detail", minimal(perpetrator_detail=[]), "perpetrator_detail"),
    ("reporter_role", minimal(reporter_role="Victim"), "reporter_role"),
    ("reporter_name", minimal(reporter_name=None), "reporter_name"),
    ("organisation", minimal(organisation="o" * 201), "organisation"),
    ("affected type", minimal(affected="self"), "affected"),
    ("affected too many", minimal(affected=[{"relation": "self"}] * 51), "affected"),
    ("affected item", minimal(affected=[1]), "affected.0"),
    ("affected relation", minimal(affected=[{}]), "affected.0.relation"),
    ("affected name", minimal(affected=[{"relation": "self", "name": 1}]), "affected.0.name"),
    ("affected detail", minimal(affected=[{"relation": "self", "detail": "d" * 1001}]), "affected.0.detail"),
    ("affected unknown", minimal(affected=[{"relation": "self", "constructor": 1}]), "affected.0.constructor"),
    ("urgency", minimal(urgency=["detained", "detained"]), "urgency.1"),
    ("urgency_detail", minimal(urgency_detail=1), "urgency_detail"),
    ("gender", minimal(gender=False), "gender"),
    ("groups", minimal(groups=["lgbtiq"]), "groups.0"),
    ("remedies", minimal(remedies="No"), "remedies"),
    ("remedies_outcome", minimal(remedies_outcome=1), "remedies_outcome"),
    ("text", minimal(text=None), "text"),
    ("consent type", minimal(consent=True), "consent"),
    ("consent unknown", minimal(consent={"use": "yes"}), "consent.use"),
    ("consent use_information", minimal(consent={"use_information": "Yes"}), "consent.use_information"),
    ("consent use_media", minimal(consent={"use_media": 1}), "consent.use_media"),
    ("consent state_action", minimal(consent={"state_action": "no"}), "consent.state_action"),
    ("consent sg_report", minimal(consent={"sg_report": "no"}), "consent.sg_report"),
    ("referral type", minimal(consent={"referral": "nhri"}), "consent.referral"),
    ("referral unknown", minimal(consent={"referral": {"un": "yes"}}), "consent.referral.un"),
    ("referral value", minimal(consent={"referral": {"ngos": None}}), "consent.referral.ngos"),
    ("victim_consent without intermediary", minimal(victim_consent={}), "victim_consent"),
    ("victim_consent from a victim", minimal(reporter_role="victim", victim_consent={}), "victim_consent"),
    ("victim_consent field", minimal(reporter_role="intermediary", victim_consent={"use_name": 0}),
     "victim_consent.use_name"),
]


@pytest.mark.parametrize("label,value,path", BAD, ids=[b[0] for b in BAD])
def test_each_refusal_names_its_field(label, value, path):
    err = refused_at(value, path)
    assert isinstance(err, ProtocolError)
    assert err.message.startswith(f"{path or '(the whole value)'}: ") and err.reason


@pytest.mark.parametrize("schema", ["quietline.report/1", "quietline.report/3", "", None, 2, ["quietline.report/2"],
                                    {"v": 2}, "x" * 1000])
def test_another_schema_is_unsupported_whatever_the_report_holds(schema):
    err = refused_at({"schema": schema, "country": None, "zzz": 1}, "schema", "unsupported_version")
    assert len(err.message) < 200  # the value is not echoed whole


def test_first_problem_in_table_order():
    refused_at(minimal(text=1, place=1), "place")
    refused_at(minimal(consent={"sg_report": 1, "use_information": 1}), "consent.use_information")
    refused_at(minimal(victim_consent={"referral": {"nhri": 1}}), "victim_consent.referral.nhri")


# ---------------------------------------------------------------- consent


def test_updated_replaces_only_answered_questions():
    before = ConsentSet("yes", "yes", "no", "private", "named", {"nhri": "yes", "ngos": "no"})
    after = before.updated(ConsentSet(use_name="no", sg_report="anonymised", referral={"ngos": "yes", "lawyers": "no"}))
    assert after == ConsentSet("yes", "no", "no", "private", "anonymised", {"nhri": "yes", "ngos": "yes", "lawyers": "no"})
    assert before.referral == {"nhri": "yes", "ngos": "no"}  # the original is untouched


def test_updated_with_nothing_answered_changes_nothing():
    before = ConsentSet("yes", None, "no", None, "none", {"unhcr": "yes"})
    assert before.updated(ConsentSet()) == before
    assert ConsentSet().updated(before) == before


def test_updated_with_refused_refuses_everything():
    before = ConsentSet("yes", "yes", "yes", "public", "named", {k: "yes" for k in R.REFERRAL_KINDS})
    assert before.updated(ConsentSet.refused()) == ConsentSet.refused()


def test_refused_answers_every_question_no():
    refused = ConsentSet.refused()
    assert (refused.use_information, refused.use_name, refused.use_media) == ("no", "no", "no")
    assert (refused.state_action, refused.sg_report) == ("none", "none")
    assert refused.referral == {k: "no" for k in R.REFERRAL_KINDS}
    assert parse_report(minimal(consent=refused.to_json())).consent == refused


def test_to_json_leaves_out_unanswered_questions():
    assert ConsentSet().to_json() == {}
    assert ConsentSet(use_media="no", referral={"ngos": "yes", "nhri": "no"}).to_json() == {
        "use_media": "no", "referral": {"ngos": "yes", "nhri": "no"}}
    assert list(ConsentSet(referral={"ngos": "yes", "lawyers": "no"}).to_json()["referral"]) == ["lawyers", "ngos"]


# ---------------------------------------------------------------- follow-ups


def body(**fields) -> dict:
    return {"v": 1, "kind": "followup", "case_id": "ab" * 16, "id": "cd" * 16, "day": "2026-11-24", "text": "",
            "attachments": [], **fields}


def test_followup_without_changes():
    assert parse_followup_update(body()) == FollowupUpdate()
    assert parse_followup_update({"text": "x"}) == FollowupUpdate(None, None, False)


def test_followup_consent_change_applies_to_the_report():
    r = parse_report(minimal(reporter_role="intermediary", consent={"use_name": "yes", "referral": {"nhri": "yes"}},
                             victim_consent={"use_information": "yes"}))
    update = parse_followup_update(body(consent={"referral": {"ngos": "no"}}, victim_consent={"use_name": "no"}))
    assert r.consent.updated(update.consent) == ConsentSet(use_name="yes", referral={"nhri": "yes", "ngos": "no"})
    assert r.victim_consent.updated(update.victim_consent) == ConsentSet(use_information="yes", use_name="no")
    assert not update.withdraw


def test_followup_withdraw():
    assert parse_followup_update(body(withdraw=True)).withdraw is True
    for bad in [False, 1, "true", None, []]:
        err = refusal(parse_followup_update, body(withdraw=bad))
        assert (err.code, err.path) == ("bad_followup", "withdraw")


@pytest.mark.parametrize("value,path", [
    ([], ""), ("x", ""), ({}, "text"), ({"text": 1}, "text"), ({"text": "a" * (R.ACCOUNT + 1)}, "text"),
    (body(report={}), "report"), (body(__proto__=1), "__proto__"), ({"lang": 1}, "lang"),
    (body(consent=None), "consent"), (body(consent={"use_name": "oui"}), "consent.use_name"),
    (body(victim_consent={"referral": {"x": "no"}}), "victim_consent.referral.x"),
    (body(text=None, consent=[]), "text"),
])
def test_followup_refusals(value, path):
    err = refusal(parse_followup_update, value)
    assert (err.code, err.path) == ("bad_followup", path)


def test_followup_envelope_fields_are_left_to_the_envelope_reader():
    parse_followup_update({"v": "?", "kind": None, "case_id": 1, "id": [], "day": {}, "attachments": 0, "text": ""})


# ---------------------------------------------------------------- properties

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)  # JSON-writable text


def text_up_to(limit: int):
    return st.one_of(TEXT, st.just(ASTRAL * limit), st.just("a" * limit))


def some(options):
    return st.lists(st.sampled_from(options), unique=True)


def partial_dates():
    return st.tuples(st.dates(datetime.date(1945, 1, 1)), st.sampled_from([4, 7, 10])).map(lambda p: p[0].isoformat()[: p[1]])


CONSENTS = st.fixed_dictionaries({}, optional={
    "use_information": st.sampled_from(R.YES_NO), "use_name": st.sampled_from(R.YES_NO),
    "use_media": st.sampled_from(R.YES_NO), "state_action": st.sampled_from(R.STATE_ACTIONS),
    "sg_report": st.sampled_from(R.SG_REPORT),
    "referral": st.dictionaries(st.sampled_from(R.REFERRAL_KINDS), st.sampled_from(R.YES_NO)),
})
PEOPLE = st.fixed_dictionaries({"relation": st.sampled_from(R.RELATIONS)},
                               optional={"name": text_up_to(R.SHORT), "detail": text_up_to(R.MEDIUM)})
OPTIONAL = {
    "place": text_up_to(R.SHORT), "date": partial_dates(), "engagement": st.sampled_from(R.ENGAGEMENTS),
    "un_bodies": some(R.UN_BODIES), "un_body_detail": text_up_to(R.MEDIUM), "timing": some(R.TIMINGS),
    "reprisal_types": some(R.REPRISAL_TYPES), "perpetrators": some(R.PERPETRATORS),
    "perpetrator_detail": text_up_to(R.MEDIUM), "reporter_role": st.sampled_from(R.REPORTER_ROLES),
    "reporter_name": text_up_to(R.SHORT), "organisation": text_up_to(R.SHORT),
    "affected": st.lists(PEOPLE, max_size=R.MAX_AFFECTED), "urgency": some(R.URGENCIES),
    "upcoming_date": st.dates(datetime.date(1945, 1, 1)).map(datetime.date.isoformat),
    "urgency_detail": text_up_to(R.MEDIUM), "gender": text_up_to(R.SHORT), "groups": some(R.GROUPS),
    "remedies": st.sampled_from(R.REMEDIES), "remedies_outcome": text_up_to(R.LONG), "text": text_up_to(300),
    "consent": CONSENTS,
}


@st.composite
def reports(draw):
    value = draw(st.fixed_dictionaries({"schema": st.just(R.SCHEMA), "country": st.sampled_from(R.COUNTRIES)},
                                       optional=OPTIONAL))
    if value.get("reporter_role") == "intermediary" and draw(st.booleans()):
        value["victim_consent"] = draw(CONSENTS)
    return value


def as_value(field: str, parsed):
    """What the input held for a parsed field, to compare them."""
    if isinstance(parsed, ConsentSet):
        return parsed.to_json()
    if field == "affected":
        return [{k: v for k, v in dataclasses.asdict(p).items() if v} for p in parsed]
    return list(parsed) if isinstance(parsed, tuple) else parsed


def answered(name: str, value) -> bool:
    # An intermediary's empty victim consent is still given (and allowed only to them).
    return value is not None if name == "victim_consent" else value not in ("", (), None, ConsentSet())


def to_json(r: Report) -> dict:
    """A parsed report written back as a report object, leaving out what was not answered."""
    out = {"schema": R.SCHEMA}
    for f in dataclasses.fields(r):
        if answered(f.name, getattr(r, f.name)):
            out[f.name] = as_value(f.name, getattr(r, f.name))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(reports())
def test_valid_reports_parse_and_round_trip(value):
    r = parse_report(value)
    for name, given_value in value.items():
        if name == "schema":
            continue
        if name in ("consent", "victim_consent"):
            assert getattr(r, name) == ConsentSet(**given_value)
            continue
        parsed = as_value(name, getattr(r, name))
        if name == "affected":
            given_value = [{k: v for k, v in p.items() if v} for p in given_value]
        assert parsed == given_value, name
    # Through the bytes a sealed envelope carries, and back through the writer above.
    assert parse_report(json_load(json_bytes(value), what="report")) == r
    assert parse_report(to_json(r)) == r


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | TEXT,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
    max_leaves=15,
)
KEYS = st.sampled_from([name for name, _ in R.REPORT_FIELDS] + ["__proto__", "constructor", "x", ASTRAL])


def junk_reports():
    # Random values, objects with the schema's own keys, and valid reports with one field spoilt.
    spoilt = st.tuples(reports(), KEYS, JSON).map(lambda t: {**t[0], t[1]: t[2]})
    keyed = st.dictionaries(KEYS, JSON, max_size=6).map(lambda d: {"schema": R.SCHEMA, **d})
    return st.one_of(JSON, keyed, spoilt)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(junk_reports())
def test_junk_raises_only_protocol_errors(value):
    try:
        parse_report(value)
    except SchemaError as exc:
        assert exc.code in ("bad_report", "unsupported_version") and isinstance(exc.path, str)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, st.dictionaries(st.sampled_from(["text", "consent", "victim_consent", "withdraw", "v", "x"]),
                                       st.one_of(JSON, CONSENTS), max_size=5)))
def test_junk_followups_raise_only_protocol_errors(value):
    try:
        update = parse_followup_update(value)
    except SchemaError as exc:
        assert exc.code == "bad_followup" and isinstance(exc.path, str)
    else:
        assert isinstance(update, FollowupUpdate) and update.withdraw in (True, False)


def test_parsed_reports_serialise_as_the_vectors_write_them():
    r = parse_report(minimal(affected=[{"relation": "self"}], consent={"referral": {"nhri": "yes"}}))
    out = json.loads(json.dumps(dataclasses.asdict(r)))
    assert out["affected"] == [{"relation": "self", "name": "", "detail": ""}]
    assert out["consent"]["referral"] == {"nhri": "yes"} and out["victim_consent"] is None
