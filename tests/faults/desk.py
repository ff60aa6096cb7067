"""desk-1's focal point with a real vault: pulls inbound bundles with the function
`quietline sync pull` runs, imports and exports them with `quietline ws import` and
`quietline ws export` as subprocesses, pushes acknowledgements, and checks that what
people were told was received is in the vault, byte for byte."""

import os
import subprocess
import sys
import time
from pathlib import Path

from crypto.bundle import INBOUND, read_bundle
from workstation.cases import ATTACHMENT, FOLLOWUP, STORED, get_case
from workstation.errors import WorkstationError
from workstation.sync.cli import SyncConfig, pull, push
from workstation.vault import Vault

from .person import Sent

PASSPHRASE = "correct horse battery staple"
QUIETLINE = str(Path(sys.executable).with_name("quietline"))


def ws_environment(vault: Path, tmp: Path | None = None) -> dict:
    """`quietline ws`'s environment; `tmp` for its temporary files (a referral's GnuPG home)."""
    env = dict(os.environ, QUIETLINE_VAULT=str(vault), QUIETLINE_VAULT_PASSPHRASE=PASSPHRASE,
               QUIETLINE_VAULT_KDF="interactive", QUIETLINE_OPERATOR="faults")
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    return env


class Desk:
    def __init__(self, root: Path, org, server_url: str):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.vault_path = root / "vault"
        Vault.create(self.vault_path, PASSPHRASE, org.desks["desk-1"], kdf="interactive").close()
        self.config = SyncConfig(server_url, "desk-1", org.tokens["desk-1"])
        self.env = ws_environment(self.vault_path)
        self.pulled = 0
        self.pushed = 0
        self.cut = 0  # pulls and pushes that got no whole answer
        self._n = 0
        self.last_error = ""

    def _next(self, kind: str) -> Path:
        self._n += 1
        return self.root / f"{self._n:04d}.{kind}"

    def ws(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([QUIETLINE, "ws", *args], env=self.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"quietline ws {' '.join(args)}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    def pull(self) -> Path | None:
        """One pull; None if the server died meanwhile. A cut transfer leaves no file: only a
        whole bundle that verifies ever takes the name."""
        out = self._next("inbound")
        try:
            pull(self.config, out)
        except WorkstationError as exc:
            self.last_error = exc.message
            self.cut += 1
            assert not out.exists(), "a failed pull left a bundle file"
            assert not [p for p in self.root.iterdir() if p.name.startswith(f".{out.name}")], "a failed pull left a temporary file"
            return None
        self.pulled += 1
        with open(out, "rb") as f:
            read_bundle(f, INBOUND)  # whole and authentic (its digest over every byte)
        return out

    def import_bundle(self, bundle: Path) -> str:
        done = self.ws("import", str(bundle))
        assert "REFUSED" not in done.stdout, f"the server served something the workstation refuses:\n{done.stdout}"
        return done.stdout

    def export_and_push(self, give_up_after: float = 180.0) -> None:
        out = self._next("outbound")
        done = self.ws("export", "--out", str(out))
        if "nothing to export" in done.stdout:
            return
        started = time.monotonic()
        first = True
        while True:
            try:
                push(self.config, out)
                self.pushed += 1
                return
            except WorkstationError as exc:
                # Applied, but the answer was lost with the server: the same bundle again is
                # a replay, which means it is in.
                if "bundle_replayed" in str(exc) and not first:
                    self.pushed += 1
                    return
                if "cannot reach" not in str(exc):
                    raise
                self.cut += 1
            first = False
            if time.monotonic() - started > give_up_after:
                raise AssertionError("the server did not come back for the push")
            time.sleep(0.2)

    def cycle(self) -> bool:
        """Pull, import, acknowledge: the desk's routine. False if the pull got nothing whole."""
        bundle = self.pull()
        if bundle is None:
            return False
        self.import_bundle(bundle)
        self.export_and_push()
        return True

    def open(self) -> Vault:
        return Vault.open(self.vault_path, PASSPHRASE)


def missing_from_vault(vault: Vault, sent: list[Sent]) -> list[str]:
    """Everything acknowledged to a person that the vault does not hold exactly as sent."""
    problems: list[str] = []

    def check_files(case_id: str, files, where: str) -> None:
        for file in files:
            record = vault.get(ATTACHMENT, vault.rid(ATTACHMENT, file.upload_id))
            if record is None or record["state"] != STORED or record["case_id"] != case_id:
                problems.append(f"{where}: attachment {file.upload_id[:8]} is not stored")
                continue
            if b"".join(vault.read_attachment(bytes.fromhex(record["file"]))) != file.data:
                problems.append(f"{where}: attachment {file.upload_id[:8]} differs from what was sent")

    for s in sent:
        case_id = s.submitter.case_id
        case = get_case(vault, case_id)
        if case is None:
            problems.append(f"case {case_id[:8]} is not in the vault")
            continue
        if case["report"]["text"] != s.text or case["attachments"] != [f.upload_id for f in s.files]:
            problems.append(f"case {case_id[:8]}: the report differs from what was sent")
        check_files(case_id, s.files, f"case {case_id[:8]}")
        followups = {f["text"]: f for _, f in vault.records(FOLLOWUP, group=vault.case_group(case_id))}
        for text, files in s.followups:
            if text not in followups or followups[text]["attachments"] != [f.upload_id for f in files]:
                problems.append(f"case {case_id[:8]}: follow-up {text!r} is not in the vault as sent")
                continue
            check_files(case_id, files, f"case {case_id[:8]} follow-up")
    return problems
