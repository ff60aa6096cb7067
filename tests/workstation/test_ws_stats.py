"""`ws stats` on several hundred generated cases (seeded): every figure is computed here
straight from the generated inputs, never through stats.py, and compared with the table and
the CSV; small counts suppressed, the secondary suppression, the carried-forward count and
the cases left out for lack of consent."""

import csv
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from crypto.desk import DeskKeys
from crypto.encoding import b64encode
from crypto.envelope import seal
from crypto.report import GROUPS, PERPETRATORS, REFERRAL_KINDS, REPRISAL_TYPES, UN_BODIES
from workstation import audit, casework
from workstation.importer import import_bundle
from workstation.vault import Vault
from ws_helpers import PASSPHRASE, InboundBundle, Message, Submitter, assert_one_line_error

N_CASES = 400
FIRST, LAST = "2025-01-01", "2025-12-31"
COUNTRIES = ("SY", "EG", "BY", "IR", "CN", "RU", "VE", "NI", "BH", "MM", "ZW", "KH")
COUNTRY_WEIGHTS = (30, 20, 15, 10, 8, 6, 4, 3, 2, 1, 1, 0.5)
VERIFICATIONS = ("unverified", "in_progress", "verified")  # not_verifiable is planted, below


@dataclass
class Generated:
    """One case as the test made it: everything the expected figures are computed from."""

    case_id: str
    day: str
    country: str
    reprisal_types: list[str]
    perpetrators: list[str]
    un_bodies: list[str]
    groups: list[str]
    reporter: dict  # consent
    victim: dict | None  # consent, for an intermediary's report
    withdrawn: bool
    verification: str = "unverified"
    closed: str | None = None


def _subset(rng: random.Random, values, most: int) -> list[str]:
    return rng.sample(values, rng.randint(0, most))


def _consent(rng: random.Random) -> dict:
    out = {}
    information = rng.choices(("yes", "no", None), (85, 5, 10))[0]
    sg = rng.choices(("named", "anonymised", "none", None), (30, 40, 15, 15))[0]
    if information:
        out["use_information"] = information
    if sg:
        out["sg_report"] = sg
    out["use_name"] = rng.choice(("yes", "no"))
    out["referral"] = {kind: rng.choice(("yes", "no")) for kind in rng.sample(REFERRAL_KINDS, 2)}
    return out


def generate(rng: random.Random) -> list[Generated]:
    start = date(2024, 7, 1)
    cases = []
    for _ in range(N_CASES):
        day = start + timedelta(days=rng.randrange(730))
        intermediary = rng.random() < 0.15
        cases.append(
            Generated(
                case_id=Submitter.new().case_id,
                day=day.isoformat(),
                country=rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0],
                reprisal_types=_subset(rng, REPRISAL_TYPES, 3),
                perpetrators=_subset(rng, PERPETRATORS, 2),
                un_bodies=_subset(rng, UN_BODIES, 2),
                groups=_subset(rng, GROUPS, 2),
                reporter=_consent(rng),
                victim=_consent(rng) if intermediary else None,
                withdrawn=rng.random() < 0.04,
                verification=rng.choices(VERIFICATIONS, (45, 30, 25))[0],
                closed=(day + timedelta(days=rng.randrange(1, 300))).isoformat() if rng.random() < 0.35 else None,
            )
        )
    return cases


# -- what the figures must be, from the inputs alone ------------------------------------------------


def eligible(case: Generated, purpose: str) -> bool:
    if case.withdrawn:
        return False
    people = [case.reporter] + ([case.victim] if case.victim is not None else [])
    if not all(p.get("use_information") == "yes" for p in people):
        return False
    return purpose == "trends" or all(p.get("sg_report") in ("named", "anonymised") for p in people)


def values(case: Generated, by: str) -> list[str]:
    found = {
        "country": [case.country],
        "reprisal_type": case.reprisal_types,
        "perpetrator": case.perpetrators,
        "un_body": case.un_bodies,
        "group": case.groups,
        "verification": [case.verification],
        "quarter": [f"{case.day[:4]}-Q{(int(case.day[5:7]) + 2) // 3}"],
    }[by]
    return found or ["not stated"]


def expected_counts(cases: list[Generated], by: str, purpose: str) -> dict[str, int]:
    counts = Counter()
    for case in cases:
        if FIRST <= case.day <= LAST and eligible(case, purpose):
            counts.update(values(case, by))
    return dict(counts)


def expected_suppressed(counts: dict[str, int], min_count: int, single_valued: bool) -> set[str]:
    hidden = {v for v, n in counts.items() if n < min_count}
    if single_valued and len(hidden) == 1:
        rest = sorted((n, v) for v, n in counts.items() if v not in hidden)
        hidden |= {rest[0][1]} if rest else set()
    return hidden


def expected_totals(cases: list[Generated], purpose: str) -> dict[str, int]:
    received = [c for c in cases if FIRST <= c.day <= LAST]
    earlier = [c for c in cases if c.day < FIRST and (c.closed is None or c.closed >= FIRST)]
    return {
        "total": sum(eligible(c, purpose) for c in received),
        "carried": sum(eligible(c, purpose) for c in earlier),
        "left_out": sum(not eligible(c, purpose) for c in received),
        "left_out_carried": sum(not eligible(c, purpose) for c in earlier),
    }


# -- the vault, built once for the module -----------------------------------------------------------


def _sealed_report(sub: Submitter, desks, case: Generated) -> Message:
    report = {"schema": "quietline.report/2", "country": case.country, "text": "account", "consent": case.reporter}
    for name in ("reprisal_types", "perpetrators", "un_bodies", "groups"):
        if getattr(case, name):
            report[name] = getattr(case, name)
    if case.victim is not None:
        report |= {"reporter_role": "intermediary", "victim_consent": case.victim}
    body = {
        "v": 1, "kind": "report", "case_id": sub.case_id, "day": case.day, "lang": "en",
        "reply_pk": b64encode(sub.keys.reply_public), "sign_pk": b64encode(sub.keys.sign_public),
        "report": report, "attachments": [],
    }
    return Message(seal("report", body, sub.keys.sign_secret, desks), [], body)


def _plant_a_lone_small_verification(cases: list[Generated], purpose: str) -> None:
    """Exactly two counted cases in the period are not_verifiable: one small cell in a
    single-valued dimension, so the next smallest must be suppressed as well."""
    counted = [c for c in cases if FIRST <= c.day <= LAST and eligible(c, purpose)]
    for case in counted[:2]:
        case.verification = "not_verifiable"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    started = time.monotonic()
    tmp = tmp_path_factory.mktemp("stats")
    rng = random.Random(20261120)
    desk = DeskKeys.generate("desk-1", "Test desk")
    desks = (desk.public,)
    bundle = InboundBundle()
    cases = []
    for case in generate(rng):
        sub = Submitter.new()
        case.case_id = sub.case_id
        bundle.add_report(sub.case_id, _sealed_report(sub, desks, case))
        if case.withdrawn:
            bundle.add_followup(sub.case_id, 1, sub.followup(desks, text="", extra={"withdraw": True}))
        cases.append(case)
    _plant_a_lone_small_verification(cases, "sg-report")
    path = tmp / "vault"
    with Vault.create(path, PASSPHRASE, desk, kdf="interactive") as vault:
        result = import_bundle(vault, bundle.write(tmp / "in.qlb"))
        assert not result.refused and result.new["report"] == N_CASES
        with vault.transaction():
            for case in cases:
                work = casework.load(vault, case.case_id)
                work.verification = case.verification
                if case.closed:
                    work.state, work.closed, work.close_reason = "closed", case.closed, "threat_ended"
                casework.save(vault, work)
    print(f"\n{N_CASES} cases generated and imported in {time.monotonic() - started:.1f} s")
    return path, cases


def read_csv(path) -> tuple[list[str], list[dict]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def table_rows(output: str) -> dict[str, str]:
    """The rich table's body rows: first column -> second column."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 2 and cells[0]:
            rows[cells[0]] = cells[1]
    return rows


def run_stats(cli, vault_path, tmp_path, *args, name="out.csv"):
    out = tmp_path / name
    result = cli("ws", "--vault", vault_path, "stats", "--from", FIRST, "--to", LAST, "--csv", out, *args)
    assert result.exit_code == 0, result.output
    return result.output, *read_csv(out)


SINGLE = {"country": True, "verification": True, "quarter": True}


@pytest.mark.parametrize(
    "by, purpose, min_count",
    [
        ("country", "sg-report", 5),
        ("country", "trends", 5),
        ("reprisal_type", "sg-report", 5),
        ("perpetrator", "trends", 10),
        ("un_body", "sg-report", 5),
        ("group", "trends", 5),
        ("verification", "sg-report", 5),
        ("quarter", "trends", 3),
    ],
)
def test_counts_match_the_generated_cases(cli, generated, tmp_path, by, purpose, min_count):
    vault_path, cases = generated
    args = ["--by", "period", "--period", "quarter"] if by == "quarter" else ["--by", by]
    output, header, rows = run_stats(cli, vault_path, tmp_path, *args, "--purpose", purpose, "--min-count", min_count)

    counts = expected_counts(cases, by, purpose)
    hidden = expected_suppressed(counts, min_count, SINGLE.get(by, False))
    dimension = "period" if by == "quarter" else by
    assert header == ["dimension", "value", "cases", "suppressed"]
    cells = [r for r in rows if r["dimension"] == dimension]
    assert [r["value"] for r in cells] == sorted(counts)  # by value, never by count
    for row in cells:
        value = row["value"]
        if value in hidden:
            assert row == {"dimension": dimension, "value": value, "cases": "", "suppressed": "true"}
        else:
            assert row == {"dimension": dimension, "value": value, "cases": str(counts[value]), "suppressed": "false"}

    shown = table_rows(output)
    for value, n in counts.items():
        if value in hidden:
            assert shown[value] == (f"<{min_count}" if n < min_count else "hidden"), value
        else:
            assert shown[value] == str(n), value

    totals = expected_totals(cases, purpose)
    summary = {r["value"]: r["cases"] for r in rows if r["dimension"] != dimension}
    assert summary == {
        "received in the period": str(totals["total"]),
        "unresolved cases received before the period": str(totals["carried"]),
        "no consent, received in the period": str(totals["left_out"]),
        "no consent, carried forward": str(totals["left_out_carried"]),
    }
    assert shown["total received"] == str(totals["total"])
    assert shown["unresolved cases carried forward"] == str(totals["carried"])
    assert f"left out for lack of consent: {totals['left_out']} received in the period, {totals['left_out_carried']} carried forward" in output


def test_the_data_exercises_what_it_should(generated):
    """Guards the generator: the cases above really do hit every rule."""
    _, cases = generated
    by_country = expected_counts(cases, "country", "sg-report")
    assert any(0 < n < 5 for n in by_country.values()) and any(n >= 5 for n in by_country.values())
    assert len(expected_suppressed(by_country, 5, True)) >= 2
    assert expected_counts(cases, "reprisal_type", "trends").get("not stated", 0) > 0
    totals = expected_totals(cases, "sg-report")
    assert totals["total"] > 50 and totals["carried"] > 20 and totals["left_out"] > 20
    assert expected_totals(cases, "trends")["left_out"] < totals["left_out"]
    assert any(c.withdrawn and FIRST <= c.day <= LAST and c.reporter.get("use_information") == "yes" for c in cases)
    assert any(c.victim is not None and FIRST <= c.day <= LAST for c in cases)
    earlier = [c for c in cases if c.day < FIRST]
    assert any(c.closed and c.closed < FIRST for c in earlier) and any(c.closed and c.closed >= FIRST for c in earlier)


def test_a_lone_small_cell_in_a_single_valued_dimension_takes_the_next_smallest_with_it(cli, generated, tmp_path):
    vault_path, cases = generated
    output, _, rows = run_stats(cli, vault_path, tmp_path, "--by", "verification")
    counts = expected_counts(cases, "verification", "sg-report")
    assert counts["not_verifiable"] == 2 and all(n >= 5 for v, n in counts.items() if v != "not_verifiable")
    next_smallest = min((v for v in counts if v != "not_verifiable"), key=lambda v: (counts[v], v))
    suppressed = {r["value"] for r in rows if r["suppressed"] == "true"}
    assert suppressed == {"not_verifiable", next_smallest}
    assert table_rows(output)[next_smallest] == "hidden"  # not "<5": it is not small
    assert table_rows(output)["not_verifiable"] == "<5"
    assert "hidden: withheld as well" in output

    # In a multi-valued dimension cells do not add up to the total: no secondary suppression.
    counts = expected_counts(cases, "group", "sg-report")
    _, _, rows = run_stats(cli, vault_path, tmp_path, "--by", "group", "--min-count", 20, name="groups.csv")
    assert {r["value"] for r in rows if r["suppressed"] == "true"} == {v for v, n in counts.items() if n < 20}


def test_stats_are_audited_and_refuse_bad_input(cli, generated, tmp_path):
    vault_path, _ = generated
    with Vault.open(vault_path, PASSPHRASE) as vault:
        before = audit.head(vault).count
    result = cli("ws", "--vault", vault_path, "--operator", "focal-2", "stats", "--from", FIRST, "--to", LAST)
    assert result.exit_code == 0, result.output
    with Vault.open(vault_path, PASSPHRASE) as vault:
        [entry] = audit.entries(vault)[before:]
    assert entry.action == "statistics" and entry.actor == "focal-2"
    assert entry.detail["from"] == FIRST and entry.detail["purpose"] == "sg-report" and entry.detail["csv"] is None

    stats = ("ws", "--vault", vault_path, "stats")
    assert_one_line_error(cli(*stats, "--from", "2025-02-30", "--to", LAST), "not a day", exit_code=2)
    assert_one_line_error(cli(*stats, "--from", LAST, "--to", FIRST), "after", exit_code=2)
    existing = tmp_path / "exists.csv"
    existing.write_text("keep")
    assert_one_line_error(cli(*stats, "--from", FIRST, "--to", LAST, "--csv", existing), "already exists")
    assert existing.read_text() == "keep"
