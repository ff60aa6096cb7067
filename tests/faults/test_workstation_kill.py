"""The workstation killed with SIGKILL at random moments (seeded), many times, while it
imports inbound bundles, writes a reply, exports an outbound bundle, a referral encrypted
with the real gpg, and a statistics CSV: each a `quietline ws` subprocess.

After every kill the vault opens and is whole (`ws check`'s own checks: SQLite's integrity
check, every record, every attachment file to its last byte, the audit chain), and it holds
either everything the killed command would have done or none of it: never half an import
or an export it does not record (or a recorded one whose file is missing for good). Running
the same command again then finishes the job, and the end state (every record, every
attachment's plaintext, every file written for others) equals that of a run never
interrupted, made from a copy of the same empty vault.

QUIETLINE_FAULTS_SEED changes the schedule."""

import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from nacl.bindings import crypto_sign_keypair

from crypto.bundle import OUTBOUND, read_bundle
from crypto.desk import DeskKeys
from crypto.manifest import Manifest, sign_manifest, verify_manifest
from workstation.cases import ATTACHMENT, STORED
from workstation.integrity import check_vault
from workstation.outputs import OUTPUT
from workstation.vault import Vault
from ws_helpers import InboundBundle, Submitter

from .desk import PASSPHRASE, QUIETLINE, ws_environment

SEED = int(os.environ.get("QUIETLINE_FAULTS_SEED", "6"))
CONSENT = {"use_information": "yes", "use_name": "yes", "use_media": "yes", "state_action": "private", "sg_report": "named",
           "referral": {k: "yes" for k in ("national_protection", "nhri", "unhcr", "un_bodies", "ngos", "lawyers")}}
DAY = "2026-11-20"
MANIFEST = None  # the test's desk in a signed manifest: outbound bundles are read against it
FOLDERS: list[Path] = []  # every folder a step ran in
TMP = Path(tempfile.gettempdir())  # the commands' temporary folder (made private by `story`)


@dataclass(frozen=True)
class Step:
    args: tuple[str, ...]
    kills: int
    output: str | None = None  # the file it writes for others, under the work folder


def gpg(home: Path, *args: str) -> bytes:
    cmd = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback", "--passphrase", "", *args]
    return subprocess.run(cmd, capture_output=True, check=True, timeout=120).stdout


@pytest.fixture(scope="module")
def recipient():
    """An NHRI's key pair in a GnuPG home of its own (short path: gpg-agent's socket)."""
    home = Path(tempfile.mkdtemp(prefix="qlf-gpg-"))
    gpg(home, "--quick-gen-key", "NHRI Referrals <referrals@nhri.example>", "future-default", "default", "never")
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)
    shutil.rmtree(home, ignore_errors=True)


def bundles(folder: Path, desks, rng: random.Random) -> tuple[Path, Path, str]:
    """Two inbound bundles as the server writes them: six reports, four with files (about
    12 MB in all), then follow-ups (one with a file) and a seventh report."""
    people = [Submitter.new() for _ in range(7)]
    first = InboundBundle()
    for n, person in enumerate(people[:6]):
        files = [(f"scan-{n}-{i}.bin", rng.randbytes(rng.randint(500_000, 2_500_000))) for i in range(1 + n % 3)] if n < 4 else []
        first.add_report(person.case_id, person.report(desks, text=f"Account {n}.", attachments=files,
                                                       extra={"consent": CONSENT, "place": "Geneva"}))
    second = InboundBundle()
    for seq_owner in people[:3]:
        second.add_followup(seq_owner.case_id, 1, seq_owner.followup(desks, text="They came back."))
    second.add_followup(people[0].case_id, 2, people[0].followup(desks, text="A photo.",
                                                                 attachments=[("photo.jpg", rng.randbytes(700_000))]))
    second.add_report(people[6].case_id, people[6].report(desks, text="Account 6.", extra={"consent": CONSENT}))
    return first.write(folder / "first.inbound"), second.write(folder / "second.inbound"), people[1].case_id


def run(args: tuple[str, ...], env: dict, cwd: Path, kill_after: float | None) -> tuple[bool, subprocess.CompletedProcess | None]:
    """(killed, result): the command, SIGKILLed after `kill_after` seconds if still running."""
    process = subprocess.Popen([QUIETLINE, "ws", *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=kill_after if kill_after is not None else 300)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.communicate()
        return True, None
    return False, subprocess.CompletedProcess(process.args, process.returncode, out, err)


def manifest_of(desk: DeskKeys):
    root_pk, root_sk = crypto_sign_keypair()
    return verify_manifest(sign_manifest(Manifest("Test org", DAY, (desk.public,)), root_sk), root_pk)


def written(work: Path, name: str, recipient: Path) -> object:
    """A file written for others, as its reader sees it: the outbound bundle's header with its
    random id left out, the referral decrypted (each archive member), the CSV as is."""
    path = work / name
    if not path.exists():
        return None
    if name.endswith(".outbound"):
        with open(path, "rb") as f:
            bundle = read_bundle(f, OUTBOUND, MANIFEST)
            blobs = [bundle.read_blob(f, i) for i in range(len(bundle.blob_sizes))]
        return {**{k: v for k, v in bundle.header.items() if k != "bundle_id"}, "blobs": len(blobs)}
    if name.endswith(".asc"):
        plain = gpg(recipient, "--decrypt", str(path))
        with zipfile.ZipFile(io.BytesIO(plain)) as archive:
            return {member: hashlib.sha256(archive.read(member)).hexdigest() for member in archive.namelist()}
    return path.read_bytes()


def state(vault_path: Path, work: Path, outputs: list[str], recipient: Path) -> dict:
    """Everything the vault holds and the files it wrote, comparable across two vaults copied
    from one (same keys): each record decrypted (random bundle ids and the audit chain's
    hashes, which cover them, replaced), each attachment's plaintext digest."""
    with Vault.open(vault_path, PASSPHRASE) as vault:
        rows = vault._db.execute("SELECT rid, kind, data FROM records").fetchall()
        records = {kind: [] for _, kind, _ in rows}
        ids: dict[str, str] = {}
        for rid, kind, data in rows:
            record = vault._open(kind, rid, data)
            if kind == "outbound":
                ids.setdefault(record["bundle_id"], f"bundle-{len(ids)}")
            records[kind].append(record)
        # Notes of exports under way (outputs.py): compared on their own, in `settled`.
        notes = [(Path(n["target"]).name, n["ready"], os.path.exists(n["temp"])) for n in records.pop(OUTPUT, [])]
        text = json.dumps(records, sort_keys=True)
        for root in (work, *FOLDERS):  # where the run wrote (a step started in a copy names the original)
            text = text.replace(str(root), "<work>")
        for real, placeholder in ids.items():
            text = text.replace(real, placeholder)
        records = json.loads(text)
        for entry in records.get("audit", []):
            entry.pop("hash"), entry.pop("prev")
        for reply in records.get("reply", []):
            reply["blob"] = len(reply["blob"])  # sealed to the case with a fresh ephemeral key each time
        records.pop("audit_head", None)
        files = {r["upload_id"]: hashlib.sha256(b"".join(vault.read_attachment(bytes.fromhex(r["file"])))).hexdigest()
                 for _, r in vault.records(ATTACHMENT) if r["state"] == STORED}
    canonical = {kind: sorted(json.dumps(r, sort_keys=True) for r in rs) for kind, rs in records.items()}
    return {"records": canonical, "attachments": files, "written": {name: written(work, name, recipient) for name in outputs},
            "notes": notes}


def settled(now: dict, before: dict, after: dict, output: str | None) -> None:
    """After a kill: the vault holds none of the command's work, and then no file for others
    appeared; or all of it, and then its file is at its name or, written and recorded, waits
    under its temporary name for the next command to give it (outputs.py)."""
    if now["records"] not in (before["records"], after["records"]):
        differ = {kind: (sorted(set(rows) - set(before["records"].get(kind, []))), sorted(set(rows) - set(after["records"].get(kind, []))))
                  for kind, rows in now["records"].items() if rows not in (before["records"].get(kind), after["records"].get(kind))}
        raise AssertionError(f"the command left half its work: {differ}")
    assert now["attachments"] in (before["attachments"], after["attachments"]), "an import left half its files"
    if now["records"] == before["records"]:
        assert now["written"] == before["written"], "a file appeared that the vault does not record"
        assert all(not ready for _, ready, _ in now["notes"]), now["notes"]
    elif now["written"] != after["written"]:
        assert output is not None and now["written"][output] is None, "a recorded export's file is not what it should be"
        assert [(ready, temp) for target, ready, temp in now["notes"] if target == output] == [(True, True)], now["notes"]


def inspect(vault_path: Path, work: Path, outputs: list[str], recipient: Path) -> tuple[list[str], int, dict]:
    """After a kill: `ws check`'s verdict (the same function: database, records, attachment
    files, audit chain), how many leftovers it lists, and the state."""
    with Vault.open(vault_path, PASSPHRASE) as vault:
        result = check_vault(vault)
    return result.problems, len(result.leftovers), state(vault_path, work, outputs, recipient)


@dataclass
class Story:
    """The steps, and what a run never interrupted gives: the state before and after each,
    a copy of the folder before each (to start kills from), and how long each took."""

    steps: list[Step]
    outputs: list[str]
    expected: list[dict]
    starts: list[Path]
    durations: list[float]
    startup: float
    recipient: Path
    root: Path

    def check_after_kill(self, n: int, into: Path) -> tuple[int, dict]:
        problems, left, now = inspect(into / "vault", into, self.outputs, self.recipient)
        assert problems == [], f"after ws {self.steps[n].args[0]} was killed: {problems}"
        settled(now, self.expected[n], self.expected[n + 1], self.steps[n].output)
        return left, now

    def rerun(self, n: int, into: Path) -> None:
        step = self.steps[n]
        _killed, done = run(step.args, ws_environment(into / "vault", TMP), into, None)
        assert done.returncode == 0, f"ws {' '.join(step.args)} after a kill: {done.stdout}{done.stderr}"
        problems, left, now = inspect(into / "vault", into, self.outputs, self.recipient)
        assert (problems, left) == ([], 0)
        # A kill that came after the import committed leaves its whole work (settled() checked);
        # importing the bundle again then adds nothing but its own audit entry, saying so.
        now["records"]["audit"] = [row for row in now["records"].get("audit", []) if not _reimport_entry(row)]
        assert now == self.expected[n + 1], f"ws {step.args[0]}, run again after a kill, ended elsewhere than a run never interrupted"
        assert stray_gnupg() == [], "a killed referral's GnuPG home or agent outlived the next referral"


def _reimport_entry(row: str) -> bool:
    """An audit entry of an import that found every item of its bundle already imported."""
    entry = json.loads(row)
    detail = entry.get("detail") or {}
    return (entry.get("action") == "import" and detail.get("seen_before") is True
            and not any(detail.get("new", {}).values()) and not detail.get("refused"))


def stray_gnupg() -> list[str]:
    """Temporary GnuPG homes in the commands' temporary folder, and gpg-agents running in
    one: what a killed referral leaves until the next referral removes it."""
    strays = [str(p) for p in TMP.glob("ql-gpg-*")]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"gpg-agent") and str(TMP).encode() in b" ".join(args):
            strays.append(f"gpg-agent {cmdline.parent.name}")
    return strays


@pytest.fixture(scope="module")
def story(tmp_path_factory, recipient):
    global MANIFEST, TMP
    root = tmp_path_factory.mktemp("ws-kill")
    TMP = root / "tmp"
    TMP.mkdir()
    try:
        yield make_story(root, recipient)
    finally:  # whatever a failed run left: each agent stopped in its own home
        for home in TMP.glob("ql-gpg-*"):
            subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)
            shutil.rmtree(home, ignore_errors=True)


def make_story(root: Path, recipient: Path) -> Story:
    global MANIFEST
    rng = random.Random(SEED)
    desk = DeskKeys.generate("desk-1", "Test desk")
    MANIFEST = manifest_of(desk)
    empty = root / "empty-vault"
    Vault.create(empty, PASSPHRASE, desk, kdf="interactive").close()
    first, second, referred = bundles(root, (desk.public,), rng)
    key = root / "nhri.asc"
    key.write_bytes(gpg(recipient, "--armor", "--export", "referrals@nhri.example"))
    steps = [
        Step(("import", str(first)), kills=4),
        Step(("import", str(second)), kills=2),
        Step(("reply", referred[:8], "--status", "received", "--message", "We have your report."), kills=1),
        Step(("export", "--out", "replies.outbound"), kills=2, output="replies.outbound"),
        Step(("refer", referred[:8], "--kind", "nhri", "--key", str(key), "--out", "referral.asc", "--with-media"),
             kills=2, output="referral.asc"),
        Step(("stats", "--from", "2026-01-01", "--to", "2026-12-31", "--csv", "stats.csv"), kills=1, output="stats.csv"),
    ]
    outputs = [s.output for s in steps if s.output]
    reference = root / "reference"
    FOLDERS[:] = [reference]
    shutil.copytree(empty, reference / "vault")
    env = ws_environment(reference / "vault", TMP)
    started = time.monotonic()
    run(("audit", "verify"), env, reference, None)
    startup = time.monotonic() - started  # a command that only opens the vault
    expected, durations, starts = [state(reference / "vault", reference, outputs, recipient)], [], []
    for n, step in enumerate(steps):
        starts.append(shutil.copytree(reference, root / f"before-{n}", symlinks=True))
        started = time.monotonic()
        _killed, done = run(step.args, env, reference, None)
        assert done.returncode == 0, f"ws {' '.join(step.args)}: {done.stdout}{done.stderr}"
        durations.append(time.monotonic() - started)
        expected.append(state(reference / "vault", reference, outputs, recipient))
    return Story(steps, outputs, expected, starts, durations, startup, recipient, root)


def fresh(story: Story, n: int, name: str) -> Path:
    into = story.root / name
    shutil.rmtree(into, ignore_errors=True)
    return shutil.copytree(story.starts[n], into, symlinks=True)


def random_trial(story: Story, n: int, rng: random.Random) -> tuple[int, int]:
    """From the state before step `n`, run it and kill it at a random moment (mostly after
    the vault is open, before the reference run's end); now and then kill the re-run too;
    then run it again to the end. Returns (kills, kills that caught it writing)."""
    step = story.steps[n]
    window = (min(0.8 * story.startup, 0.5 * story.durations[n]), story.durations[n])
    for _attempt in range(4):
        into = fresh(story, n, "random")
        kills = traces = 0
        delay: float | None = rng.uniform(*window)
        while delay is not None:
            killed, done = run(step.args, ws_environment(into / "vault", TMP), into, delay)
            if not killed:
                break
            kills += 1
            left, now = story.check_after_kill(n, into)
            traces += left > 0
            if now == story.expected[n + 1]:
                return kills, traces  # killed once it had finished: nothing is left to do
            delay = rng.uniform(*window) if rng.random() < 0.3 else None
        if kills == 0:  # it finished before the kill: aim earlier
            assert done.returncode == 0, f"ws {' '.join(step.args)}: {done.stdout}{done.stderr}"
            window = (0.7 * window[0], (window[0] + window[1]) / 2)
            continue
        story.rerun(n, into)
        return kills, traces
    raise AssertionError(f"ws {step.args[0]} always finished before it could be killed")


def test_sigkill_at_random_moments_leaves_a_whole_vault_and_a_rerun_finishes(story):
    rng = random.Random(SEED + 1)
    FOLDERS.append(story.root / "random")
    kills = traces = 0
    for n, step in enumerate(story.steps):
        for _ in range(step.kills):
            k, t = random_trial(story, n, rng)
            kills, traces = kills + k, traces + t
    print(f"\n{kills} kills of the workstation, {traces} of them part-way through writing; uninterrupted steps took "
          f"{', '.join(f'{d:.1f}' for d in story.durations)} s, of which {story.startup:.1f} s to start and open the vault")
    assert kills >= sum(s.kills for s in story.steps)


# The moments a random kill rarely hits, hit exactly: the command runs with one function
# wrapped to SIGKILL its own process at that point (a real kill: nothing after it runs).
KILL_AT = r"""
import os, signal, sys
import workstation.outputs as outputs
import workstation.vault as vault

def die():
    os.kill(os.getpid(), signal.SIGKILL)

point = os.environ["QLF_KILL_AT"]
if point == "attachment stored":
    store, calls = vault.Vault.store_attachment, []
    def stored(self, *args, **kwargs):
        done = store(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 3:
            die()
        return done
    vault.Vault.store_attachment = stored
elif point == "written":
    outputs.Output.ready = lambda self: die()
elif point == "recorded":
    outputs._give_name = lambda temp, target: die()
elif point == "named":
    delete = vault.Vault.delete
    def deleting(self, kind, rid):
        if kind == outputs.OUTPUT:
            die()
        return delete(self, kind, rid)
    vault.Vault.delete = deleting
from quietline_cli import main
main(sys.argv[1:], prog_name="quietline")
"""

MOMENTS = [
    (0, "attachment stored"),  # two attachment files in place, their records not committed
    (3, "written"),  # the bundle written under its temporary name, not recorded
    (3, "recorded"),  # recorded in the vault, not yet named
    (3, "named"),  # named, its note not yet cleared
    (4, "recorded"),
    (5, "named"),
]


@pytest.mark.parametrize(("n", "moment"), MOMENTS, ids=[f"{n}-{m.replace(' ', '-')}" for n, m in MOMENTS])
def test_sigkill_at_the_moment_that_matters_leaves_a_whole_vault_and_a_rerun_finishes(story, n, moment):
    into = fresh(story, n, f"moment-{n}-{moment.replace(' ', '-')}")
    FOLDERS.append(into)
    env = {**ws_environment(into / "vault", TMP), "QLF_KILL_AT": moment}
    done = subprocess.run([sys.executable, "-c", KILL_AT, "ws", *story.steps[n].args], env=env, cwd=into,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, f"not killed at {moment}: {done.returncode} {done.stdout}{done.stderr}"
    left, now = story.check_after_kill(n, into)
    checked = subprocess.run([QUIETLINE, "ws", "check"], env=ws_environment(into / "vault", TMP), capture_output=True, text=True)
    assert checked.returncode == 0 and "the vault is whole" in checked.stdout, checked.stdout + checked.stderr
    # Opening the vault settles an interrupted export (outputs.py); an interrupted import's
    # files are listed, and cleared by the next import.
    assert ("left by an interrupted command" in checked.stdout) == (moment == "attachment stored"), checked.stdout
    if moment in ("attachment stored", "written"):
        assert now["records"] == story.expected[n]["records"] and left >= 1  # nothing recorded; its files left to clear
    else:
        assert now["records"] == story.expected[n + 1]["records"]  # recorded: the next command names the file
    story.rerun(n, into)
