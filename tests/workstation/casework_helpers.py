"""Shared by the casework tests: cases imported into a real vault through real bundles, a
fixed "today", and walking a case along the workflow."""

import secrets

import ws_helpers
from workstation import files, workflow
from workstation.importer import import_bundle
from ws_helpers import InboundBundle, Submitter

ACTOR = "fp-tester"
PATH_TO = {  # the moves that bring a fresh case to each state
    "received": [],
    "risk_assessment": ["risk_assessment"],
    "verification": ["risk_assessment", "verification"],
    "decision": ["risk_assessment", "verification", "decision"],
    "measures": ["risk_assessment", "verification", "decision", "measures"],
    "implementing": ["risk_assessment", "verification", "decision", "measures", "implementing"],
    "review": ["risk_assessment", "verification", "decision", "measures", "implementing", "review"],
}


def set_today(monkeypatch, day: str) -> None:
    """Every workstation module asks files.today() when it runs, so this fixes the date."""
    monkeypatch.setattr(files, "today", lambda: day)


def import_case(vault, desks, tmp_path, *, day: str = ws_helpers.DAY, country: str = "SY", **fields) -> Submitter:
    """One report with `fields` (report schema fields), received on `day`, imported."""
    submitter = Submitter.new()
    saved, ws_helpers.DAY = ws_helpers.DAY, day  # the helper stamps its module's DAY into the body
    try:
        message = submitter.report(desks, country=country, extra=fields)
    finally:
        ws_helpers.DAY = saved
    path = InboundBundle().add_report(submitter.case_id, message).write(tmp_path / f"{secrets.token_hex(4)}.qlb")
    import_bundle(vault, path)
    return submitter


def import_followup(vault, desks, tmp_path, submitter: Submitter, seq: int, **extra) -> None:
    """A follow-up (consent changes, withdraw) for an imported case."""
    message = submitter.followup(desks, extra=extra)
    path = InboundBundle().add_followup(submitter.case_id, seq, message).write(tmp_path / f"{secrets.token_hex(4)}.qlb")
    import_bundle(vault, path)


def walk_to(vault, case_id: str, state: str) -> None:
    """Move a fresh case to `state`, recording the assessment the gate asks for."""
    for step in PATH_TO[state]:
        if step == "verification":
            workflow.assess_risk(vault, ACTOR, case_id, 3, 3, 3)
        workflow.move(vault, ACTOR, case_id, step)
