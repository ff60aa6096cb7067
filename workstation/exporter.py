"""Outbound bundles: the desk's replies and acknowledgements, signed by the desk.

Everything not yet confirmed by the server goes into every export: a confirmation arrives
only through a later inbound bundle's `confirmed_outbound`, so a lost or unpushed bundle
costs nothing but a re-send (the server treats the same reply bytes again as a no-op).

Record kinds:
    ack       {ack: {type, case_id | upload_id | withdrawal_id, seq?}, state, bundles}
    outbound  {bundle_id, day, acks: [rid hex], replies: [rid hex], confirmed: day | None}
"""

import secrets
from dataclasses import dataclass
from pathlib import Path

from crypto.bundle import BUNDLE_ID, OUTBOUND, write_bundle
from crypto.encoding import b64decode

from .cases import REPLY
from . import audit
from .files import today
from .outputs import begin
from .replies import CONFIRMED, EXPORTED, PENDING
from .vault import Vault

ACK, OUTBOUND_KIND = "ack", "outbound"
_ACK_ORDER = {"report": 0, "followup": 1, "attachment": 2, "withdrawal": 3}


@dataclass(frozen=True)
class ExportResult:
    path: Path
    bundle_id: str
    replies: int
    acks: int


def _ack_rid(vault: Vault, ack: dict) -> bytes:
    if ack["type"] == "withdrawal":
        return vault.rid(ACK, "withdrawal", ack["withdrawal_id"])
    return vault.rid(ACK, ack["type"], ack.get("case_id"), ack.get("seq"), ack.get("upload_id"))


def queue_ack(vault: Vault, ack: dict) -> None:
    """Remember to tell the server it may delete what `ack` names (once; idempotent)."""
    rid = _ack_rid(vault, ack)
    if vault.get(ACK, rid) is None:
        vault.put(ACK, rid, {"ack": ack, "state": PENDING, "bundles": []})


def confirm_outbound(vault: Vault, bundle_ids: list) -> int:
    """Mark what the listed outbound bundles carried as received by the server.
    Unknown ids (bundles exported by a lost vault, or never made) are ignored."""
    confirmed = 0
    for bundle_id in bundle_ids:
        if not isinstance(bundle_id, str) or not BUNDLE_ID.fullmatch(bundle_id):
            continue
        rid = vault.rid(OUTBOUND_KIND, bundle_id)
        record = vault.get(OUTBOUND_KIND, rid)
        if record is None or record["confirmed"]:
            continue
        for kind, rids in ((ACK, record["acks"]), (REPLY, record["replies"])):
            for item_rid in map(bytes.fromhex, rids):
                item = vault.get(kind, item_rid)
                if item is not None and item["state"] != CONFIRMED:
                    item["state"] = CONFIRMED
                    _put_same_group(vault, kind, item_rid, item)
        record["confirmed"] = today()
        vault.put(OUTBOUND_KIND, rid, record)
        confirmed += 1
    return confirmed


def _put_same_group(vault: Vault, kind: str, rid: bytes, item: dict) -> None:
    group = vault.case_group(item["case_id"]) if kind == REPLY else None
    vault.put(kind, rid, item, group=group)


def export_bundle(vault: Vault, out: Path, *, actor: str | None = None) -> ExportResult | None:
    """Write every unconfirmed reply and acknowledgement into a new signed outbound bundle
    at `out` (never overwriting a file), recorded in the vault (and, with `actor`, in the
    audit log) in the same commit. None if there is nothing to send.

    A kill at any moment leaves either no bundle and nothing recorded, or a recorded bundle
    that takes its name when the vault is next opened (outputs.py)."""
    output = begin(vault, Path(out), "outbound bundle")
    try:
        # One transaction from reading what is due to recording the bundle, so what the file
        # holds is exactly what the vault records as sent in it.
        with vault.transaction():
            acks = sorted(
                ((rid, data) for rid, data in vault.records(ACK) if data["state"] != CONFIRMED),
                key=lambda item: (_ACK_ORDER[item[1]["ack"]["type"]], str(item[1]["ack"])),
            )
            replies = sorted(
                ((rid, data) for rid, data in vault.records(REPLY) if data["state"] != CONFIRMED),
                key=lambda item: (item[1]["case_id"], item[1]["seq"]),
            )
            if not acks and not replies:
                result = None
            else:
                result = _record_bundle(vault, output, acks, replies, actor)
    except BaseException:
        output.abandon()
        raise
    if result is None:
        output.abandon()
        return None
    output.finish()
    return result


def _record_bundle(vault: Vault, output, acks: list, replies: list, actor: str | None) -> ExportResult:
    desk = vault.desk
    bundle_id = secrets.token_hex(16)
    blobs = [b64decode(data["blob"]) for _, data in replies]
    header = {
        "v": 1,
        "bundle_id": bundle_id,
        "desk": desk.id,
        "day": today(),
        "acks": [data["ack"] for _, data in acks],
        "replies": [{"case_id": data["case_id"], "seq": data["seq"], "blob": i} for i, (_, data) in enumerate(replies)],
    }
    vault.put(
        OUTBOUND_KIND,
        vault.rid(OUTBOUND_KIND, bundle_id),
        {
            "bundle_id": bundle_id,
            "day": header["day"],
            "acks": [rid.hex() for rid, _ in acks],
            "replies": [rid.hex() for rid, _ in replies],
            "confirmed": None,
        },
    )
    for kind, items in ((ACK, acks), (REPLY, replies)):
        for rid, data in items:
            data["state"] = EXPORTED
            data["bundles"] = [*data["bundles"], bundle_id]
            _put_same_group(vault, kind, rid, data)
    if actor is not None:
        audit.record(vault, actor, "export", detail={"bundle_id": bundle_id, "replies": len(replies), "acks": len(acks)})
    with output.writer(0o644) as sink:
        write_bundle(sink, OUTBOUND, header, [(len(blob), [blob]) for blob in blobs], sign_secret=desk.sign_secret)
    output.ready()
    return ExportResult(output.target, bundle_id, len(replies), len(acks))
