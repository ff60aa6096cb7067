"""Cases as the vault keeps them, and what the focal point asks about them.

Record kinds (all encrypted, see vault.py), each grouped under its case:

    case        {case_id, day, lang, reply_pk, sign_pk, report, attachments: [upload_id],
                 envelope: digest, bundle_id, imported}
    followup    {case_id, seq, id, day, text, attachments: [upload_id], envelope: digest,
                 consent, victim_consent, withdraw, and for a withdrawal the server
                 delivered apart: withdrawal_id, server_deleted: true}
    withdrawal  {withdrawal_id, state: "applied", imported, case_id, seq}, or for a case
                 never imported {withdrawal_id, state: "case_never_seen", imported,
                 claimed_case_id, envelope: b64} (unverifiable until its report arrives)
    attachment  {upload_id, case_id, parent: "report" | seq, name, type, size, chunks,
                 state: "expected" | "stored", and while expected the stream key and header}
    reply       {case_id, seq, status, text, day, desk, blob, state, bundles}   (replies.py)
"""

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import WorkstationError
from .files import atomic_writer
from .vault import Vault

CASE, FOLLOWUP, ATTACHMENT, REPLY = "case", "followup", "attachment", "reply"
WITHDRAWAL = "withdrawal"  # {withdrawal_id, state, imported, case_id + seq | claimed_case_id + envelope}
EXPECTED, STORED = "expected", "stored"
MIN_PREFIX = 4
_HEX = re.compile(r"[0-9a-f]+")  # always fullmatch


@dataclass(frozen=True)
class CaseSummary:
    case_id: str
    day: str
    country: str
    status: str | None  # the status of the last reply, None before any
    followups: int
    attachments: int  # stored
    awaiting: int  # announced by the report or a follow-up, not yet imported


@dataclass(frozen=True)
class CaseDetail:
    case: dict
    followups: list[dict]
    attachments: list[dict]
    replies: list[dict]


def _children(vault: Vault, kind: str, case_id: str) -> list[dict]:
    return [data for _, data in vault.records(kind, group=vault.case_group(case_id))]


def get_case(vault: Vault, case_id: str) -> dict | None:
    return vault.get(CASE, vault.case_group(case_id))


def find_case(vault: Vault, reference: str) -> dict:
    """A case by its full id or an unambiguous prefix of at least 4 hex characters."""
    ref = reference.strip().lower()
    if len(ref) < MIN_PREFIX or not _HEX.fullmatch(ref):
        raise WorkstationError(f"a case is named by at least {MIN_PREFIX} hex characters of its id", code="bad_case_id")
    if len(ref) == 32:
        case = get_case(vault, ref)
        if case is not None:
            return case
    matches = [data for _, data in vault.records(CASE) if data["case_id"].startswith(ref)]
    if not matches:
        raise WorkstationError(f"no case {ref} in the vault", code="unknown_case")
    if len(matches) > 1:
        raise WorkstationError(f"{ref} matches {len(matches)} cases; give more characters", code="ambiguous_case")
    return matches[0]


def case_detail(vault: Vault, case: dict) -> CaseDetail:
    case_id = case["case_id"]
    followups = sorted(_children(vault, FOLLOWUP, case_id), key=lambda f: f["seq"])
    replies = sorted(_children(vault, REPLY, case_id), key=lambda r: r["seq"])
    order = {upload_id: i for i, upload_id in enumerate(case["attachments"])}
    for followup in followups:
        for upload_id in followup["attachments"]:
            order.setdefault(upload_id, len(order))
    attachments = sorted(_children(vault, ATTACHMENT, case_id), key=lambda a: order.get(a["upload_id"], len(order)))
    return CaseDetail(case, followups, attachments, replies)


def list_cases(vault: Vault) -> list[CaseSummary]:
    summaries = []
    for _, case in vault.records(CASE):
        detail = case_detail(vault, case)
        stored = sum(1 for a in detail.attachments if a["state"] == STORED)
        summaries.append(
            CaseSummary(
                case_id=case["case_id"],
                day=case["day"],
                country=str(case["report"].get("country", "")),
                status=detail.replies[-1]["status"] if detail.replies else None,
                followups=len(detail.followups),
                attachments=stored,
                awaiting=len(detail.attachments) - stored,
            )
        )
    return sorted(summaries, key=lambda s: (s.day, s.case_id))


# -- extracting attachments -----------------------------------------------------------------

_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_KEEP = set(" ._-()+,")
MAX_NAME_BYTES = 180


def safe_filename(name: object, fallback: str = "attachment") -> str:
    """A file name for `name` (chosen by the submitter, so by anyone) that stays inside the
    target directory on any system: no separators, no `..`, no hidden or device names, no
    control characters, bounded length."""
    text = unicodedata.normalize("NFC", str(name)).replace("\\", "/").split("/")[-1]
    cleaned = "".join(ch if ch.isalnum() or ch in _KEEP else "_" for ch in text)
    cleaned = re.sub(r"_{2,}", "_", cleaned).strip(" ._")
    if not cleaned:
        return fallback
    stem, dot, ext = cleaned.rpartition(".")
    if not dot:
        stem, ext = cleaned, ""
    if stem.split(".")[0].lower() in _RESERVED:
        stem = "_" + stem
    ext = ext[:16]
    while len(f"{stem}.{ext}".encode("utf-8") if ext else stem.encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return f"{stem}.{ext}" if ext else stem


def _free_path(directory: Path, name: str) -> Path:
    candidate = directory / name
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    n = 2
    while os.path.lexists(candidate):
        candidate = directory / (f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}")
        n += 1
    return candidate


def extract_attachments(vault: Vault, detail: CaseDetail, directory: Path) -> list[tuple[dict, Path]]:
    """Write the plaintext of every stored attachment of a case into `directory`, never
    overwriting a file that is there. Returns (attachment, path) pairs."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    root = directory.resolve()
    written = []
    for attachment in detail.attachments:
        if attachment["state"] != STORED:
            continue
        target = _free_path(directory, safe_filename(attachment["name"]))
        if target.parent.resolve() != root:  # safe_filename makes this impossible; keep the guard
            raise WorkstationError(f"refusing to write outside {directory}: {target.name!r}")
        with atomic_writer(target, overwrite=False) as out:
            for plain in vault.read_attachment(bytes.fromhex(attachment["file"])):
                out.write(plain)
        written.append((attachment, target))
    return written
