"""An append-only, hash-chained log of who did what on the workstation.

Each entry is a vault record (encrypted like every other) numbered from 1, and names the
hash of the entry before it:

    hash = hex(BLAKE2b-32(prev_hash || compact JSON of the entry without "hash",
                          key = a subkey of the vault master key))

The head (count and last hash) is kept in its own record. `verify` recomputes the chain:
an entry changed, removed, reordered or inserted, or the tail cut off, breaks it, and the
keyed hash means only someone holding the vault key could even try to rebuild it. The
focal point can also write the printed head down (on paper) and compare later, which
catches even a rebuild by a person who knows the passphrase.
"""

from dataclasses import dataclass

from nacl.bindings import crypto_generichash_blake2b_salt_personal as _blake2b
from pydantic import BaseModel, ConfigDict

from crypto.encoding import json_bytes

from . import files
from .errors import WorkstationError
from .vault import Vault, VaultError

AUDIT, AUDIT_HEAD = "audit", "audit_head"
GENESIS = "0" * 64


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    day: str
    actor: str
    action: str
    case_id: str | None = None
    detail: dict = {}
    prev: str
    hash: str


@dataclass(frozen=True)
class AuditHead:
    count: int
    hash: str


class AuditBroken(WorkstationError):
    def __init__(self, message: str):
        super().__init__(message, code="audit_chain_broken")


def _entry_hash(vault: Vault, fields: dict) -> str:
    body = json_bytes({k: v for k, v in fields.items() if k != "hash"})
    return _blake2b(bytes.fromhex(fields["prev"]) + body, digest_size=32, key=vault.audit_key).hex()


def head(vault: Vault) -> AuditHead:
    data = vault.get(AUDIT_HEAD, vault.rid(AUDIT_HEAD))
    return AuditHead(0, GENESIS) if data is None else AuditHead(data["count"], data["hash"])


def record(vault: Vault, actor: str, action: str, *, case_id: str | None = None, detail: dict | None = None) -> AuditEntry:
    """Append one entry. Runs inside the caller's transaction when there is one, so the
    entry is written exactly when the change it describes is."""
    with vault.transaction():
        last = head(vault)
        fields = {
            "seq": last.count + 1,
            "day": files.today(),
            "actor": actor,
            "action": action,
            "case_id": case_id,
            "detail": detail or {},
            "prev": last.hash,
        }
        entry = AuditEntry(**fields, hash=_entry_hash(vault, fields))
        vault.put(AUDIT, vault.rid(AUDIT, entry.seq), entry.model_dump())
        vault.put(AUDIT_HEAD, vault.rid(AUDIT_HEAD), {"count": entry.seq, "hash": entry.hash})
    return entry


def entries(vault: Vault) -> list[AuditEntry]:
    """Every entry in order, as stored (unchecked: use `verify` to check them)."""
    return sorted((AuditEntry.model_validate(data) for _, data in vault.records(AUDIT)), key=lambda e: e.seq)


def verify(vault: Vault) -> AuditHead:
    """Check the whole chain; returns its head, or raises AuditBroken naming the first break."""
    try:
        stored, last = entries(vault), head(vault)
    except VaultError as exc:
        # A row whose ciphertext was changed, or moved to another entry's row id: the vault
        # refuses to open it, which for the log means the chain is broken.
        raise AuditBroken(f"an audit entry cannot be read: {exc.message}") from exc
    prev = GENESIS
    for expected_seq, entry in enumerate(stored, start=1):
        if entry.seq != expected_seq:
            raise AuditBroken(f"audit entry {expected_seq} is missing (next is {entry.seq})")
        if entry.prev != prev:
            raise AuditBroken(f"audit entry {entry.seq} does not follow entry {entry.seq - 1}")
        if _entry_hash(vault, entry.model_dump()) != entry.hash:
            raise AuditBroken(f"audit entry {entry.seq} was altered")
        prev = entry.hash
    if last.count != len(stored) or last.hash != prev:
        raise AuditBroken(
            f"the audit log holds {len(stored)} entries but its head records {last.count}: entries were removed or the head replaced"
        )
    return last
