"""Withdrawals the server delivers apart from any case (it deleted the case when the person
withdrew): verified with the case's key and applied exactly as a withdrawing follow-up; for
a case never imported, only recorded (and applied if its report still turns up in an older
bundle); anything that does not verify or does not withdraw is refused and not acknowledged."""

import json

import pytest

from workstation import audit
from workstation.cases import FOLLOWUP, WITHDRAWAL, case_detail, get_case
from workstation.consent import case_consent
from workstation.exporter import ACK
from workstation.importer import ALREADY, APPLIED, NEVER_SEEN, import_bundle
from ws_helpers import InboundBundle, Submitter


def acks(vault) -> list[dict]:
    return [data["ack"] for _, data in vault.records(ACK)]


def withdrawal_acks(vault) -> list[str]:
    return sorted(a["withdrawal_id"] for a in acks(vault) if a["type"] == "withdrawal")


def imported_case(vault, desks, tmp_path, *, followups: int = 0) -> Submitter:
    person = Submitter.new()
    bundle = InboundBundle().add_report(person.case_id, person.report(desks))
    for seq in range(1, followups + 1):
        bundle.add_followup(person.case_id, seq, person.followup(desks, text=f"follow-up {seq}"))
    result = import_bundle(vault, bundle.write(tmp_path / f"report-{person.case_id[:6]}.qlb"))
    assert result.refused == []
    return person


def withdrawing(person: Submitter, desks, **kwargs):
    return person.followup(desks, text="", extra={"withdraw": True}, **kwargs)


def test_a_withdrawal_of_an_imported_case_does_what_a_withdrawing_followup_does(vault, desks, tmp_path):
    person = imported_case(vault, desks, tmp_path, followups=1)
    bundle = InboundBundle()
    withdrawal_id = bundle.add_withdrawal(withdrawing(person, desks))
    path = bundle.write(tmp_path / "w.qlb")

    result = import_bundle(vault, path)
    assert result.refused == []
    assert result.withdrawals == [type(result.withdrawals[0])(withdrawal_id, APPLIED, person.case_id)]
    case = get_case(vault, person.case_id)
    consent = case_consent(vault, case)
    assert consent.withdrawn and consent.effective().to_json() == consent.effective().refused().to_json()
    followups = case_detail(vault, case).followups
    assert [(f["seq"], f["withdraw"], bool(f.get("server_deleted"))) for f in followups] == [(1, False, False), (2, True, True)]
    assert withdrawal_acks(vault) == [withdrawal_id]

    # The same bundle again: nothing new, nothing changed.
    before = sorted(json.dumps(d, sort_keys=True) for _, d in vault.records(FOLLOWUP))
    again = import_bundle(vault, path)
    assert [w.outcome for w in again.withdrawals] == [ALREADY] and again.refused == []
    assert sorted(json.dumps(d, sort_keys=True) for _, d in vault.records(FOLLOWUP)) == before


def test_ws_import_shows_withdrawals_and_the_audit_log_counts_them(cli, vault_path, vault, desks, tmp_path):
    known = imported_case(vault, desks, tmp_path)
    never = Submitter.new()
    vault.close()
    bundle = InboundBundle()
    bundle.add_withdrawal(withdrawing(known, desks))
    unseen_id = bundle.add_withdrawal(withdrawing(never, desks))
    result = cli("ws", "--vault", vault_path, "--operator", "fp", "import", bundle.write(tmp_path / "w.qlb"))
    assert result.exit_code == 0, result.output
    assert "withdrawals: 2 new, 0 already in the vault" in result.output
    assert f"WITHDRAWN case {known.case_id[:8]}: every consent is now no; the server deleted the case" in result.output
    assert f"WITHDRAWN before the desk pulled it (withdrawal {unseen_id[:8]})" in result.output
    assert "no case data exists" in result.output and "REFUSED" not in result.output
    assert never.case_id[:8] not in result.output  # unverified: never shown as a case

    shown = json.loads(cli("ws", "--vault", vault_path, "show", known.case_id[:8], "--json").output)
    assert shown["consent"]["withdrawn"] is True
    assert [(f["withdraw"], f["server_deleted"]) for f in shown["followups"]] == [(True, True)]
    text = cli("ws", "--vault", vault_path, "show", known.case_id[:8]).output
    assert "WITHDRAWS CONSENT" in text and "the server deleted the case" in text

    listed = cli("ws", "--vault", vault_path, "cases").output
    assert never.case_id[:8] not in listed  # no case for the unseen withdrawal

    from workstation.vault import Vault
    from ws_helpers import PASSPHRASE

    with Vault.open(vault_path, PASSPHRASE) as reopened:
        entry = audit.entries(reopened)[-1]
        assert entry.action == "import" and entry.actor == "fp" and entry.case_id is None
        assert entry.detail["withdrawals"] == {"applied": 1, "case_never_seen": 1, "already": 0}
        assert known.case_id not in json.dumps(entry.detail)


def test_a_withdrawal_for_a_case_never_imported_is_recorded_and_acknowledged(vault, desks, tmp_path):
    never = Submitter.new()
    bundle = InboundBundle()
    withdrawal_id = bundle.add_withdrawal(withdrawing(never, desks))
    result = import_bundle(vault, bundle.write(tmp_path / "w.qlb"))
    assert result.refused == [] and [w.outcome for w in result.withdrawals] == [NEVER_SEEN]
    assert result.withdrawals[0].case_id is None
    assert get_case(vault, never.case_id) is None and vault.records(FOLLOWUP) == []
    assert withdrawal_acks(vault) == [withdrawal_id]
    [(_, record)] = vault.records(WITHDRAWAL)
    assert record["state"] == NEVER_SEEN


def test_a_report_from_an_older_bundle_imported_after_its_withdrawal_is_withdrawn(vault, desks, tmp_path):
    person = Submitter.new()
    older = InboundBundle().add_report(person.case_id, person.report(desks)).write(tmp_path / "older.qlb")
    newer = InboundBundle()
    newer.add_withdrawal(withdrawing(person, desks))
    import_bundle(vault, newer.write(tmp_path / "newer.qlb"))

    result = import_bundle(vault, older)
    assert result.new["report"] == 1 and [w.outcome for w in result.withdrawals] == [APPLIED]
    assert case_consent(vault, get_case(vault, person.case_id)).withdrawn
    [(_, record)] = vault.records(WITHDRAWAL)
    assert record["state"] == APPLIED and record["case_id"] == person.case_id


def test_a_forged_withdrawal_for_an_unseen_case_is_never_applied_to_its_report(vault, desks, tmp_path):
    person, forger = Submitter.new(), Submitter.new()
    forged = InboundBundle()
    forged.add_withdrawal(withdrawing(person, desks, sign_secret=forger.keys.sign_secret))
    import_bundle(vault, forged.write(tmp_path / "forged.qlb"))  # nothing can be checked yet
    result = import_bundle(vault, InboundBundle().add_report(person.case_id, person.report(desks)).write(tmp_path / "r.qlb"))
    assert result.new["report"] == 1 and result.withdrawals == []
    assert not case_consent(vault, get_case(vault, person.case_id)).withdrawn
    assert vault.records(FOLLOWUP) == []


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda p, d, o: withdrawing(p, d, sign_secret=o.keys.sign_secret), "bad_signature"),
        (lambda p, d, o: p.followup(d, text="just more words"), "not_a_withdrawal"),
        (lambda p, d, o: p.report(d), "wrong_kind"),
        (lambda p, d, o: p.followup(d, text="", extra={"withdraw": "yes"}), "bad_followup"),
    ],
    ids=["signed by another key", "does not withdraw", "a report envelope", "withdraw not true"],
)
def test_a_withdrawal_that_does_not_verify_or_withdraw_is_refused_and_not_acknowledged(vault, desks, tmp_path, make, code):
    person = imported_case(vault, desks, tmp_path)
    other = Submitter.new()
    bundle = InboundBundle()
    bundle.add_withdrawal(make(person, desks, other))
    before = sorted(json.dumps(d, sort_keys=True) for _, d in vault.records(FOLLOWUP))
    result = import_bundle(vault, bundle.write(tmp_path / "bad.qlb"))
    assert [r.code for r in result.refused] == [code]
    assert result.refused[0].item.startswith("withdrawal ")
    assert result.withdrawals == [] and withdrawal_acks(vault) == [] and vault.records(WITHDRAWAL) == []
    assert sorted(json.dumps(d, sort_keys=True) for _, d in vault.records(FOLLOWUP)) == before
    assert not case_consent(vault, get_case(vault, person.case_id)).withdrawn


def test_a_withdrawal_not_sealed_to_this_desk_is_refused(vault, desks, tmp_path):
    from crypto.desk import DeskKeys

    person = imported_case(vault, desks, tmp_path)
    elsewhere = (DeskKeys.generate("desk-2", "Another desk").public,)
    bundle = InboundBundle()
    bundle.add_withdrawal(withdrawing(person, elsewhere))
    result = import_bundle(vault, bundle.write(tmp_path / "x.qlb"))
    assert [r.code for r in result.refused] == ["not_a_recipient"] and withdrawal_acks(vault) == []


def test_a_never_seen_withdrawal_that_does_not_claim_to_withdraw_is_refused(vault, desks, tmp_path):
    never = Submitter.new()
    bundle = InboundBundle()
    bundle.add_withdrawal(never.followup(desks, text="hello"))
    result = import_bundle(vault, bundle.write(tmp_path / "x.qlb"))
    assert [r.code for r in result.refused] == ["not_a_withdrawal"]
    assert withdrawal_acks(vault) == [] and vault.records(WITHDRAWAL) == []


def test_an_older_followup_arriving_after_the_withdrawal_keeps_its_number(vault, desks, tmp_path):
    """The follow-up was pulled before the withdrawal but imported after it: it takes its
    own number, and the withdrawal moves after it; consent stays withdrawn."""
    person = imported_case(vault, desks, tmp_path)
    late = InboundBundle().add_followup(person.case_id, 1, person.followup(desks, text="sent before withdrawing"))
    late_path = late.write(tmp_path / "late.qlb")
    bundle = InboundBundle()
    bundle.add_withdrawal(withdrawing(person, desks))
    import_bundle(vault, bundle.write(tmp_path / "w.qlb"))

    result = import_bundle(vault, late_path)
    assert result.refused == [] and result.new["followup"] == 1
    followups = case_detail(vault, get_case(vault, person.case_id)).followups
    assert [(f["seq"], f["text"], f["withdraw"]) for f in followups] == [(1, "sent before withdrawing", False), (2, "", True)]
    assert case_consent(vault, get_case(vault, person.case_id)).withdrawn
    again = import_bundle(vault, late_path)
    assert again.refused == [] and again.already["followup"] == 1


def test_the_withdrawal_ack_goes_out_in_the_next_export(vault, desks, tmp_path, manifest):
    from crypto.bundle import OUTBOUND, read_bundle
    from workstation.exporter import export_bundle

    person = imported_case(vault, desks, tmp_path)
    bundle = InboundBundle()
    withdrawal_id = bundle.add_withdrawal(withdrawing(person, desks))
    import_bundle(vault, bundle.write(tmp_path / "w.qlb"))
    out = export_bundle(vault, tmp_path / "out.qlb")
    with open(out.path, "rb") as f:
        header = read_bundle(f, OUTBOUND, manifest).header
    assert header["acks"][-1] == {"type": "withdrawal", "withdrawal_id": withdrawal_id}
    assert [a["type"] for a in header["acks"]] == ["report", "withdrawal"]
