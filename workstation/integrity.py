"""`ws check`: is the vault whole? Everything a crash, a full disk or a careless copy could
have damaged, checked from the bottom up:

- the database: SQLite's integrity check, and every record opens under the vault key in
  its own place (vault.check_database);
- every case, follow-up and attachment agree: each attachment a report or follow-up names
  has its record in the same case, and each stored attachment has its file, which decrypts
  and authenticates to its last chunk with the size the submitter signed;
- the audit log's hash chain (audit.verify);
- nothing half-done is left: files an interrupted import left (a temporary file, or an
  attachment file whose record never committed) are harmless ciphertext and are listed
  apart, as leftovers the next import removes; so are exports noted but not settled
  (outputs.py), which the next command settles.
"""

from dataclasses import dataclass, field

from . import audit, outputs
from .cases import ATTACHMENT, CASE, FOLLOWUP, STORED
from .vault import Vault, VaultError


@dataclass
class VaultCheck:
    problems: list[str] = field(default_factory=list)  # damage: the vault is not whole
    leftovers: list[str] = field(default_factory=list)  # what interrupted commands left, removed later
    cases: int = 0
    attachments: int = 0
    audit_entries: int = 0

    @property
    def whole(self) -> bool:
        return not self.problems


def unrecorded_attachment_files(vault: Vault) -> list[bytes]:
    """Attachment files no stored attachment record names: written by an import that was
    interrupted before its transaction committed."""
    present, _temporary = vault.attachment_files()
    stored = {bytes.fromhex(record["file"]) for _, record in vault.records(ATTACHMENT) if record["state"] == STORED}
    return [file_id for file_id in present if file_id not in stored]


def check_vault(vault: Vault) -> VaultCheck:
    result = VaultCheck(problems=vault.check_database())
    if result.problems:
        return result  # records that do not open cannot be checked further
    cases = {data["case_id"]: data for _, data in vault.records(CASE)}
    attachments = {data["upload_id"]: data for _, data in vault.records(ATTACHMENT)}
    result.cases, result.attachments = len(cases), len(attachments)
    named = [(case_id, "report", upload_id) for case_id, case in cases.items() for upload_id in case["attachments"]]
    for _, followup in vault.records(FOLLOWUP):
        if followup["case_id"] not in cases:
            result.problems.append(f"follow-up {followup['seq']} of case {followup['case_id'][:8]} has no case")
        named += [(followup["case_id"], followup["seq"], upload_id) for upload_id in followup["attachments"]]
    for case_id, parent, upload_id in named:
        record = attachments.get(upload_id)
        if record is None or record["case_id"] != case_id:
            result.problems.append(f"case {case_id[:8]}: attachment {upload_id[:8]} it names has no record of its own")
    for upload_id, record in attachments.items():
        if record["case_id"] not in cases:
            result.problems.append(f"attachment {upload_id[:8]} belongs to no case in the vault")
        if record["state"] != STORED:
            continue
        file_id = bytes.fromhex(record["file"])
        if not vault.has_attachment(file_id):
            result.problems.append(f"attachment {upload_id[:8]} is recorded as stored but its file is missing")
            continue
        try:
            size = sum(len(piece) for piece in vault.read_attachment(file_id))
        except VaultError as exc:
            result.problems.append(f"attachment {upload_id[:8]}: {exc.message}")
            continue
        if size != record["size"]:
            result.problems.append(f"attachment {upload_id[:8]} holds {size} bytes, its report says {record['size']}")
    try:
        result.audit_entries = audit.verify(vault).count
    except audit.AuditBroken as exc:
        result.problems.append(f"audit log: {exc.message}")
    _present, temporary = vault.attachment_files()
    result.leftovers += [f"temporary file {path.name} (an interrupted import)" for path in temporary]
    result.leftovers += [f"attachment file {file_id.hex()}.qla that no record names (an interrupted import)"
                         for file_id in unrecorded_attachment_files(vault)]
    result.leftovers += [f"{note['what']} to {note['target']} not settled (an interrupted export)" for note in outputs.pending(vault)]
    return result
