"""The audit log: every command that changes the vault leaves one entry, and `ws audit
verify` finds an altered, deleted, reordered or swapped entry and a cut-off tail, whether
the change went through the vault's key or straight into vault.db."""

import sqlite3

import pytest

from workstation import audit
from workstation.audit import AUDIT, AUDIT_HEAD, AuditBroken
from ws_helpers import InboundBundle, Submitter, assert_one_line_error

from casework_helpers import set_today


@pytest.fixture
def logged(cli, vault, vault_path, desks, tmp_path, monkeypatch):
    """A vault with a few audited changes made through the CLI: import, casework, reply, export."""
    set_today(monkeypatch, "2026-11-25")
    alice = Submitter.new()
    bundle = InboundBundle().add_report(alice.case_id, alice.report(desks)).write(tmp_path / "in.qlb")
    run = lambda *args: cli("ws", "--vault", vault_path, "--operator", "maria", *args)  # noqa: E731
    for args in (
        ("import", bundle),
        ("move", alice.case_id[:8], "--to", "risk_assessment"),
        ("assess", alice.case_id[:8], "--threats", "3", "--vulnerabilities", "2", "--capacities", "2"),
        ("note", alice.case_id[:8], "spoke to the family"),
        ("reply", alice.case_id[:8], "--message", "We are assessing your report."),
        ("export", "--out", tmp_path / "out.qlb"),
    ):
        result = run(*args)
        assert result.exit_code == 0, result.output
    return run, alice


def db(vault_path) -> sqlite3.Connection:
    return sqlite3.connect(vault_path / "vault.db", isolation_level=None)


def row(vault, vault_path, seq: int) -> bytes:
    return db(vault_path).execute("SELECT data FROM records WHERE rid = ?", (vault.rid(AUDIT, seq),)).fetchone()[0]


def test_every_change_is_logged_in_order(logged, vault):
    run, alice = logged
    entries = audit.entries(vault)
    assert [e.action for e in entries] == ["import", "move", "assess_risk", "note", "reply", "export"]
    assert all(e.actor == "maria" and e.day == "2026-11-25" for e in entries)
    first, reply, export = entries[0], entries[4], entries[5]
    assert first.case_id is None and first.detail["new"] == {"report": 1, "followup": 0, "attachment": 0}
    assert len(first.detail["bundle_id"]) == 32 and first.detail["refused"] == 0
    assert reply.case_id == alice.case_id and reply.detail == {"seq": 1, "status": "assessing", "chars": 29}
    assert export.detail["replies"] == 1 and export.detail["acks"] == 1 and len(export.detail["bundle_id"]) == 32
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert all(later.prev == earlier.hash for earlier, later in zip(entries, entries[1:]))

    result = run("audit", "verify")
    head = audit.head(vault)
    assert result.exit_code == 0 and result.output.strip() == f"audit log intact: 6 entries, head {head.hash}"
    log = run("audit", "log").output
    for action in ("import", "move", "assess_risk", "note", "reply", "export", "maria"):
        assert action in log
    assert "spoke to the family" not in log  # a note's words stay in the casework
    case_log = run("audit", "log", "--case", alice.case_id[:8]).output
    assert "assess_risk" in case_log and "export" not in case_log


def test_an_empty_log_verifies(cli, vault, vault_path):
    result = cli("ws", "--vault", vault_path, "audit", "verify")
    assert result.exit_code == 0 and "0 entries" in result.output
    assert cli("ws", "--vault", vault_path, "audit", "log").output.strip() == "no audit entries"


def broken(run, *fragments) -> None:
    assert_one_line_error(run("audit", "verify"), "audit_chain_broken", *fragments)


def test_an_entry_rewritten_with_the_vault_key_is_found(logged, vault):
    run, _ = logged
    entry = audit.entries(vault)[2]
    vault.put(AUDIT, vault.rid(AUDIT, 3), {**entry.model_dump(), "actor": "someone else"})
    broken(run, "entry 3 was altered")
    with pytest.raises(AuditBroken):
        audit.verify(vault)


def test_changed_ciphertext_is_found(logged, vault, vault_path):
    run, _ = logged
    data = bytearray(row(vault, vault_path, 2))
    data[-5] ^= 1
    db(vault_path).execute("UPDATE records SET data = ? WHERE rid = ?", (bytes(data), vault.rid(AUDIT, 2)))
    broken(run, "cannot be read")


def test_a_deleted_entry_is_found(logged, vault, vault_path):
    run, _ = logged
    db(vault_path).execute("DELETE FROM records WHERE rid = ?", (vault.rid(AUDIT, 3),))
    broken(run, "entry 3 is missing")


def test_swapped_rows_are_found(logged, vault, vault_path):
    run, _ = logged
    two, three = row(vault, vault_path, 2), row(vault, vault_path, 3)
    conn = db(vault_path)
    conn.execute("UPDATE records SET data = ? WHERE rid = ?", (three, vault.rid(AUDIT, 2)))
    conn.execute("UPDATE records SET data = ? WHERE rid = ?", (two, vault.rid(AUDIT, 3)))
    broken(run, "cannot be read")


def test_entries_reordered_with_the_vault_key_are_found(logged, vault):
    """Even someone holding the key who renumbers two entries breaks the chain."""
    run, _ = logged
    two, three = audit.entries(vault)[1:3]
    vault.put(AUDIT, vault.rid(AUDIT, 2), {**three.model_dump(), "seq": 2})
    vault.put(AUDIT, vault.rid(AUDIT, 3), {**two.model_dump(), "seq": 3})
    broken(run, "entry 2 does not follow entry 1")


def test_an_entry_moved_to_another_place_is_found(logged, vault):
    run, _ = logged
    three = audit.entries(vault)[2]
    vault.put(AUDIT, vault.rid(AUDIT, 2), three.model_dump())  # entry 3 twice, entry 2 gone
    broken(run, "entry 2 is missing")


def test_a_cut_off_tail_is_found(logged, vault, vault_path):
    run, _ = logged
    conn = db(vault_path)
    for seq in (5, 6):
        conn.execute("DELETE FROM records WHERE rid = ?", (vault.rid(AUDIT, seq),))
    broken(run, "holds 4 entries but its head records 6")


def test_a_removed_head_is_found(logged, vault, vault_path):
    run, _ = logged
    db(vault_path).execute("DELETE FROM records WHERE rid = ?", (vault.rid(AUDIT_HEAD),))
    broken(run, "holds 6 entries but its head records 0")


def test_a_failed_command_leaves_no_entry(logged, vault):
    run, alice = logged
    count = audit.head(vault).count
    assert_one_line_error(run("move", alice.case_id[:8], "--to", "decision"), "transition_refused")
    assert_one_line_error(run("note", alice.case_id[:8], " "), "empty_note")
    assert audit.verify(vault).count == count
