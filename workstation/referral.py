"""Referral export: a case's information, as far as its consent allows, encrypted with
OpenPGP to one recipient (a national human rights institution, UNHCR, a lawyers' network…).

The recipient's public key is imported into a temporary GnuPG home made for this one
export and removed after it, so the focal point's own keyring (~/.gnupg) is never read or
changed, and that one key is trusted for this one encryption only. OpenPGP itself is the
real `gpg` binary driven by python-gnupg: nothing here builds OpenPGP packets.

Everything consent forbids is refused before any file is written (consent.py); the file is
written under a temporary name, logged in the case's casework and in the audit log in one
vault transaction, and only then renamed into place (outputs.py: a kill at any moment leaves
no referral the vault does not record).
"""

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import gnupg
from pydantic import BaseModel

from crypto.report import Person, Report, parse_report

from . import audit, casework
from .cases import STORED, CaseDetail, case_detail, find_case, safe_filename
from .consent import (
    CaseConsent,
    case_consent,
    referral_label,
    require_information,
    require_media,
    require_names,
    require_not_closed_for_withdrawal,
    require_referral,
)
from .errors import WorkstationError, one_line, printable
from .files import today
from .outputs import Output, begin
from .vault import Vault

SCHEMA = "quietline.referral/1"
WITHHELD = "[withheld]"
MAX_KEY_FILE = 1024 * 1024  # an armoured public key is a few KiB; refuse to read anything huge
FORMATS = ("text", "json")


@dataclass(frozen=True)
class ReferralRequest:
    kind: str  # one of crypto.report.REFERRAL_KINDS
    key_file: Path  # the recipient's OpenPGP public key
    out: Path
    with_names: bool = False
    with_media: bool = False
    attachments: tuple[str, ...] = ()  # names to include; empty with --with-media means all
    armor: bool = True
    format: str = "text"


@dataclass(frozen=True)
class RecipientKey:
    fingerprint: str
    uid: str


@dataclass(frozen=True)
class ReferralResult:
    case_id: str
    path: Path
    recipient: RecipientKey
    included: list[str]


class BadRecipientKey(WorkstationError):
    def __init__(self, path: Path, why: str):
        super().__init__(f"{path}: {why}; a referral needs exactly one valid OpenPGP public key", code="bad_recipient_key")


# -- the document the recipient reads -------------------------------------------------------------


class PersonOut(BaseModel):
    relation: str
    name: str  # the name, "[withheld]", or "" when none was given
    detail: str


class Update(BaseModel):
    day: str
    text: str


class AttachmentOut(BaseModel):
    name: str  # its file name inside the archive
    type: str
    size: int


class ReferralDocument(BaseModel):
    """What the recipient needs to act, and nothing the consent does not cover. Names are
    replaced by "[withheld]" unless names were asked for and consented to."""

    schema_: str = SCHEMA
    reference: str  # the case's short id: enough for the focal point, useless to the server
    referred_to: str
    referred_on: str
    received: str
    country: str
    place: str
    date: str
    engagement: str | None
    un_bodies: list[str]
    un_body_detail: str
    timing: list[str]
    reprisal_types: list[str]
    perpetrators: list[str]
    perpetrator_detail: str
    urgency: list[str]
    upcoming_date: str
    urgency_detail: str
    remedies: str | None
    remedies_outcome: str
    reporter_role: str | None
    reporter_name: str
    organisation: str
    affected: list[PersonOut]
    names: str  # "included" or "withheld"
    account: str
    updates: list[Update]  # follow-up texts, in order: the account as it continued
    attachments: list[AttachmentOut]

    def to_json(self) -> bytes:
        data = self.model_dump()
        data["schema"] = data.pop("schema_")
        return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8") + b"\n"

    def to_text(self) -> bytes:
        def line(label: str, value: object) -> str:
            shown = ", ".join(value) if isinstance(value, list) else (value or "")
            return f"{label}: {printable(shown) or '-'}"

        lines = [
            "QUIETLINE REFERRAL - CONFIDENTIAL",
            "",
            line("Reference", self.reference),
            line("Referred to", self.referred_to),
            line("Referred on", self.referred_on),
            line("Received", self.received),
            "",
            line("Country", self.country),
            line("Place", self.place),
            line("Date", self.date),
            line("Engagement with the UN", self.engagement),
            line("UN bodies", self.un_bodies),
            line("UN body detail", self.un_body_detail),
            line("Timing", self.timing),
            line("Reprisal types", self.reprisal_types),
            line("Perpetrators", self.perpetrators),
            line("Perpetrator detail", self.perpetrator_detail),
            line("Urgency", self.urgency),
            line("Upcoming risky date", self.upcoming_date),
            line("Urgency detail", self.urgency_detail),
            line("Domestic remedies", self.remedies),
            line("Remedies outcome", self.remedies_outcome),
            "",
            line("Reporter", self.reporter_role),
            line("Reporter name", self.reporter_name),
            line("Organisation", self.organisation),
            f"Names: {self.names}",
            "Affected people:" if self.affected else "Affected people: -",
            *(f"  - {p.relation}: {printable(p.name) or '-'}" + (f" ({printable(p.detail)})" if p.detail else "") for p in self.affected),
            "",
            "Account:",
            printable(self.account) or "(no text)",
        ]
        for update in self.updates:
            lines += ["", f"Update of {update.day}:", printable(update.text) or "(no text)"]
        if self.attachments:
            lines += ["", "Attachments (in this archive, under attachments/):"]
            lines += [f"  - {printable(a.name)} ({a.type or '?'}, {a.size} bytes)" for a in self.attachments]
        return ("\n".join(lines) + "\n").encode("utf-8")


def _name(value: str, show: bool) -> str:
    # An empty name stays empty: "[withheld]" would suggest a name was given.
    return value if show or not value else WITHHELD


def _person(person: Person, show: bool) -> PersonOut:
    return PersonOut(relation=person.relation, name=_name(person.name, show), detail=person.detail)


def build_document(detail: CaseDetail, report: Report, request: ReferralRequest, attachments: list[AttachmentOut]) -> ReferralDocument:
    names = request.with_names  # the caller has checked consent for it
    record = detail.case
    return ReferralDocument(
        reference=record["case_id"][:8],
        referred_to=referral_label(request.kind),
        referred_on=today(),
        received=record["day"],
        country=report.country,
        place=report.place,
        date=report.date,
        engagement=report.engagement,
        un_bodies=list(report.un_bodies),
        un_body_detail=report.un_body_detail,
        timing=list(report.timing),
        reprisal_types=list(report.reprisal_types),
        perpetrators=list(report.perpetrators),
        perpetrator_detail=report.perpetrator_detail,
        urgency=list(report.urgency),
        upcoming_date=report.upcoming_date,
        urgency_detail=report.urgency_detail,
        remedies=report.remedies,
        remedies_outcome=report.remedies_outcome,
        reporter_role=report.reporter_role,
        reporter_name=_name(report.reporter_name, names),
        # An organisation's name identifies its members as surely as a person's name does.
        organisation=_name(report.organisation, names),
        affected=[_person(p, names) for p in report.affected],
        names="included" if names else "withheld",
        account=report.text,
        updates=[Update(day=f["day"], text=f["text"]) for f in detail.followups if f["text"]],
        attachments=attachments,
    )


# -- checks, before anything is written ------------------------------------------------------------


def check_allowed(work: casework.Casework, consent: CaseConsent, request: ReferralRequest) -> None:
    """Raise ConsentMissing for the first thing the case's consent does not allow."""
    require_not_closed_for_withdrawal(work)
    require_information(consent)
    require_referral(consent, request.kind)
    if request.with_names:
        require_names(consent)
    if request.with_media:
        require_media(consent)


def choose_attachments(detail: CaseDetail, request: ReferralRequest) -> list[dict]:
    if request.attachments and not request.with_media:
        raise WorkstationError("--attachment needs --with-media (attachments are media)", code="usage")
    if not request.with_media:
        return []
    stored = [a for a in detail.attachments if a["state"] == STORED]
    if not request.attachments:
        return stored
    chosen = []
    for name in request.attachments:
        matches = [a for a in stored if a["name"] == name]
        if not matches:
            raise WorkstationError(f"the case has no stored attachment named {one_line(name)!r}", code="unknown_attachment")
        chosen += [a for a in matches if a not in chosen]
    return chosen


def _archive_names(attachments: list[dict]) -> list[str]:
    """Distinct safe names inside the archive (two files may share a name)."""
    names, seen = [], set()
    for attachment in attachments:
        name = safe_filename(attachment["name"])
        stem, dot, ext = name.rpartition(".")
        n = 2
        while name in seen:
            name = f"{stem}-{n}.{ext}" if dot else f"{ext}-{n}"
            n += 1
        seen.add(name)
        names.append(name)
    return names


# -- OpenPGP through gpg ---------------------------------------------------------------------------


GPG_HOME_PREFIX = "ql-gpg-"
_IN_USE = "in-use.lock"


def _remove_home(home: str) -> None:
    # Import and public-key encryption need no agent, but stop any gpg may have started.
    try:
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        pass
    shutil.rmtree(home, ignore_errors=True)


def remove_stale_gnupg_homes() -> int:
    """Remove the homes of exports that were killed (their process gone, so nothing holds
    their lock any more), and stop any agent left running in them. Homes in use by another
    export are locked and left alone. Returns how many were removed."""
    removed = 0
    for home in Path(tempfile.gettempdir()).glob(f"{GPG_HOME_PREFIX}*"):
        try:
            fd = os.open(home / _IN_USE, os.O_RDWR)
        except OSError:
            continue  # not one of ours, or still being made
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # in use
        finally:
            os.close(fd)
        _remove_home(str(home))
        removed += 1
    return removed


class TemporaryGnupg:
    """A GnuPG home for one export: made private (0700), locked while in use, and removed with
    every key in it; homes that killed exports left behind are removed first."""

    def __enter__(self) -> gnupg.GPG:
        remove_stale_gnupg_homes()
        self.home = tempfile.mkdtemp(prefix=GPG_HOME_PREFIX)  # short: gpg puts sockets here
        # Held until this process ends, however it ends: the mark of a home in use. Locked
        # before it takes its name, so no other export ever finds it unlocked while in use.
        making = os.path.join(self.home, "making.lock")
        self._lock = os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        os.rename(making, os.path.join(self.home, _IN_USE))
        try:
            return gnupg.GPG(gnupghome=self.home)
        except (OSError, ValueError) as exc:
            self.__exit__()
            raise WorkstationError(f"cannot run gpg ({exc}); install GnuPG", code="gpg_missing") from None

    def __exit__(self, *exc) -> None:
        _remove_home(self.home)
        os.close(self._lock)


def import_recipient(gpg: gnupg.GPG, key_file: Path) -> RecipientKey:
    """Import `key_file` into the temporary home; it must hold exactly one public key that
    can encrypt and is neither expired nor revoked, and no secret key."""
    try:
        if key_file.stat().st_size > MAX_KEY_FILE:
            raise BadRecipientKey(key_file, "the file is too large to be a public key")
        data = key_file.read_bytes()
    except OSError as exc:
        raise BadRecipientKey(key_file, exc.strerror or "cannot be read") from None
    gpg.import_keys(data)
    if gpg.list_keys(secret=True):
        raise BadRecipientKey(key_file, "it holds a secret key; ask the recipient for their public key only")
    keys = gpg.list_keys()
    if len(keys) != 1:
        raise BadRecipientKey(key_file, "it holds no OpenPGP public key" if not keys else f"it holds {len(keys)} keys")
    key = keys[0]
    if key.get("trust") == "r":
        raise BadRecipientKey(key_file, "the key is revoked")
    if key.get("trust") == "e":
        raise BadRecipientKey(key_file, "the key has expired")
    if "E" not in key.get("cap", ""):  # upper case: some usable (sub)key can encrypt
        raise BadRecipientKey(key_file, "the key cannot encrypt")
    uid = one_line(key["uids"][0]) if key.get("uids") else "(no user id)"
    return RecipientKey(key["fingerprint"], uid)


def encrypt_to(gpg: gnupg.GPG, recipient: RecipientKey, write_payload, tmp: Path, *, armor: bool, filename: str) -> None:
    """Encrypt what `write_payload(stream)` writes to `recipient` into the new file `tmp`,
    flushed to disk (the caller gives it its name once the vault records it: outputs.py).

    The payload goes to gpg through a pipe, never as plaintext on disk; gpg runs in a worker
    thread while this thread writes (the vault is only ever read from this thread)."""
    reader_fd, writer_fd = os.pipe()
    reader = os.fdopen(reader_fd, "rb")
    outcome: dict = {}

    def run_gpg() -> None:
        try:
            outcome["result"] = gpg.encrypt_file(
                reader,
                [recipient.fingerprint],
                always_trust=True,  # this one key, in this throwaway home, for this export
                armor=armor,
                output=str(tmp),
                extra_args=["--set-filename", filename],
            )
        except Exception as exc:  # noqa: BLE001 - reported below, in the calling thread
            outcome["error"] = exc
        finally:
            reader.close()  # so a writer blocked on a full pipe sees the end

    worker = threading.Thread(target=run_gpg, name="gpg-encrypt", daemon=True)
    worker.start()
    try:
        try:
            with os.fdopen(writer_fd, "wb") as writer:
                write_payload(writer)
        except BrokenPipeError:
            pass  # gpg stopped reading; its own result says why
        worker.join()
        result = outcome.get("result")
        if "error" in outcome or result is None or not result.ok:
            why = outcome.get("error") or (result.status if result is not None else None) or "gpg failed"
            raise WorkstationError(f"encryption failed: {one_line(why)}", code="gpg_failed")
        os.chmod(tmp, 0o600)
        with open(tmp, "rb") as done:
            os.fsync(done.fileno())
    except BaseException:
        worker.join(timeout=30)
        tmp.unlink(missing_ok=True)
        raise


def _payload_writer(vault: Vault, document: ReferralDocument, attachments: list[dict], names: list[str], fmt: str):
    """The plaintext the recipient gets: the document alone, or a ZIP archive holding the
    document and the attachments (streamed from the vault, chunk by chunk)."""
    body = document.to_json() if fmt == "json" else document.to_text()
    doc_name = "referral.json" if fmt == "json" else "referral.txt"
    if not attachments:
        return (lambda out: out.write(body)), doc_name

    def write(out: BinaryIO) -> None:
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(doc_name, body)
            for attachment, name in zip(attachments, names):
                with archive.open(f"attachments/{name}", "w", force_zip64=True) as dest:
                    for plain in vault.read_attachment(bytes.fromhex(attachment["file"])):
                        dest.write(plain)

    return write, "referral.zip"


# -- the export ------------------------------------------------------------------------------------


def refer(vault: Vault, case_ref: str, request: ReferralRequest, actor: str) -> ReferralResult:
    case = find_case(vault, case_ref)
    case_id = case["case_id"]
    check_allowed(casework.load(vault, case_id), case_consent(vault, case), request)
    if request.format not in FORMATS:
        raise WorkstationError(f"unknown format {request.format!r}", code="usage")
    out = Path(request.out)
    if os.path.lexists(out):
        raise WorkstationError(f"{out} already exists; not overwriting it", code="file_exists")
    if not out.parent.is_dir():
        raise WorkstationError(f"no directory {out.parent} to write {out.name} in", code="no_directory")
    detail = case_detail(vault, case)
    chosen = choose_attachments(detail, request)
    names = _archive_names(chosen)
    listed = [AttachmentOut(name=n, type=str(a["type"]), size=a["size"]) for a, n in zip(chosen, names)]
    document = build_document(detail, parse_report(case["report"]), request, listed)
    write, filename = _payload_writer(vault, document, chosen, names, request.format)
    included = ["information", "account", *(["names"] if request.with_names else []), *(f"attachment:{n}" for n in names)]
    with TemporaryGnupg() as gpg:
        recipient = import_recipient(gpg, Path(request.key_file))
        # Noted in the vault first, named only once logged: an export the vault does not
        # record never exists, even if the command is killed (outputs.py).
        output = begin(vault, out, "referral")
        try:
            encrypt_to(gpg, recipient, write, output.temp, armor=request.armor, filename=filename)
            _log(vault, case_id, request, recipient, out, included, actor, output)
        except BaseException:
            output.abandon()
            raise
    output.finish()
    return ReferralResult(case_id, out, recipient, included)


def _log(vault: Vault, case_id: str, request: ReferralRequest, recipient: RecipientKey, out: Path, included: list[str],
         actor: str, output: Output) -> None:
    entry = casework.Referral(
        day=today(),
        by=actor,
        recipient_kind=request.kind,
        recipient=recipient.uid,
        fingerprint=recipient.fingerprint,
        file=str(out.resolve()),
        included=included,
    )
    with vault.transaction():
        work = casework.load(vault, case_id)  # re-read inside the transaction
        work.referrals = [*work.referrals, entry]
        casework.save(vault, work)
        audit.record(
            vault,
            actor,
            "referral_export",
            case_id=case_id,
            detail={"kind": request.kind, "recipient": recipient.uid, "fingerprint": recipient.fingerprint, "included": included, "file": entry.file},
        )
        output.ready()
