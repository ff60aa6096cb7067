"""Proof of work (docs/PROTOCOL.md, "Proof of work"; server/security/pow.py), through a raw
client that attaches exactly the proof each test gives it: challenges, refusals of missing,
forged, expired, misdirected, misbound, short and replayed proofs, the key file, and the
difficulty rising with load and falling back."""

import os
import secrets
import stat
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from crypto import pow as pw
from crypto.encoding import b64decode, b64encode
from server.app import create_app
from server.settings import REPO_ROOT, Settings

from .conftest import POW_TEST_BITS
from .support import Submitter, pow_binding

PATHS = {"report": "/api/v1/cases", "followup": "/api/v1/cases/followups", "upload": "/api/v1/uploads"}


def error(response) -> str:
    return response.json()["error"]["code"]


@pytest.fixture
def raw(app):
    """No proof is added for the test: each request carries what the test gives it."""
    with TestClient(app) as c:
        yield c


def challenge(client, purpose: str) -> dict:
    response = client.get("/api/v1/pow", params={"purpose": purpose})
    assert response.status_code == 200, response.text
    return response.json()


def solved(challenge_b64: str, binding: bytes) -> dict:
    return {"challenge": challenge_b64, "nonce": pw.solve(b64decode(challenge_b64), binding)}


def solved_only_for(challenge_b64: str, binding: bytes, *others: bytes) -> dict:
    """A proof for `binding` that is no proof for any of `others`. (At the tests' low
    difficulty one counter in 16 would meet another binding too, by chance.)"""
    raw_challenge = b64decode(challenge_b64)
    nonce = pw.solve(raw_challenge, binding)
    while any(len(o) == len(binding) and pw.is_solution(raw_challenge, o, nonce) for o in others):
        nonce = pw.solve(raw_challenge, binding, nonce + 1)
    return {"challenge": challenge_b64, "nonce": nonce}


def short_nonce(challenge_b64: str, binding: bytes) -> int:
    """A counter whose work has fewer zero bits than the challenge asks for."""
    raw_challenge = b64decode(challenge_b64)
    difficulty = pw.parse_challenge(raw_challenge).difficulty
    return next(n for n in range(10_000) if pw.leading_zero_bits(pw.work_hash(raw_challenge, binding, n)) < difficulty)


class Bodies:
    """A valid body for each endpoint, and its binding."""

    def __init__(self, desk):
        self.s = Submitter()
        self.desk = desk

    def report(self, s: Submitter | None = None) -> dict:
        s = s or self.s
        return {"lookup": s.lookup, "envelope": b64encode(s.report([self.desk]))}

    def followup(self, s: Submitter | None = None, envelope: bytes | None = None) -> dict:
        s = s or self.s
        return {"lookup": s.lookup, "envelope": b64encode(envelope or s.followup([self.desk]))}

    @staticmethod
    def upload(resume: bytes | None = None) -> dict:
        body = {"chunks": 1}
        if resume is not None:
            body |= {"resume": b64encode(resume), "header": b64encode(secrets.token_bytes(24))}
        return body


@pytest.fixture
def bodies(org) -> Bodies:
    return Bodies(org.desks["desk-1"])


def post(client, purpose: str, body: dict, proof: dict | None):
    return client.post(PATHS[purpose], json=body if proof is None else {**body, "proof": proof})


def file_report(raw, bodies, s: Submitter | None = None):
    body = bodies.report(s)
    response = post(raw, "report", body, solved(challenge(raw, "report")["challenge"], pow_binding("report", body)))
    assert response.status_code == 201, response.text
    return response


# -- challenges --------------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", ["report", "followup", "upload"])
def test_a_challenge_is_signed_short_lived_and_stores_nothing(raw, env, ctx, settings, purpose):
    before = env.snapshot()
    got = challenge(raw, purpose)
    assert set(got) == {"challenge", "difficulty", "expires_in"}
    data = b64decode(got["challenge"], length=pw.CHALLENGE_BYTES)
    opened = pw.open_challenge(settings.pow_key_file.read_bytes(), data)
    assert opened.purpose == pw.PURPOSES[purpose]
    assert opened.difficulty == got["difficulty"] == POW_TEST_BITS
    now = time.time()
    assert 9 * 60 < got["expires_in"] <= 11 * 60
    assert abs(opened.expires * 60 - (now + got["expires_in"])) < 5
    assert challenge(raw, purpose)["challenge"] != got["challenge"]  # fresh random each time
    assert env.snapshot() == before


@pytest.mark.parametrize("query", ["", "?purpose=", "?purpose=lookup", "?purpose=Report", "?purpose=report&purpose=x"])
def test_a_challenge_needs_a_known_purpose(raw, query):
    response = raw.get("/api/v1/pow" + query)
    assert response.status_code == 400 and error(response) == "bad_purpose"


def test_the_key_file_is_made_once_0600_and_survives_a_restart(settings, clock, bodies):
    path = settings.pow_key_file
    assert not path.exists()
    first = create_app(settings, today=clock)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(path.read_bytes()) == 32
    key = path.read_bytes()
    with TestClient(first) as c:
        issued = challenge(c, "report")
    first.state.ctx.db.dispose()
    # Another worker, or the same one after a restart: the same key, so the proof is good there.
    second = create_app(settings, today=clock)
    assert path.read_bytes() == key
    with TestClient(second) as c:
        body = bodies.report()
        response = post(c, "report", body, solved(issued["challenge"], pow_binding("report", body)))
        assert response.status_code == 201, response.text
    second.state.ctx.db.dispose()


def test_workers_starting_at_once_agree_on_one_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from server.security.pow import load_or_create_key

    path = tmp_path / "keys" / "pow.key"
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: load_or_create_key(path), range(16)))
    assert len(set(keys)) == 1 and len(keys[0]) == 32 and path.read_bytes() == keys[0]
    assert [p.name for p in path.parent.iterdir()] == ["pow.key"]  # nothing staged is left behind


@pytest.mark.parametrize("content", [b"", b"short", bytes(33)])
def test_a_key_file_of_the_wrong_size_stops_the_server(settings, clock, content):
    settings.pow_key_file.write_bytes(content)
    with pytest.raises(RuntimeError, match="32 bytes"):
        create_app(settings, today=clock)


# -- missing, forged, expired, misdirected, misbound, short -----------------------------------


@pytest.mark.parametrize("purpose", ["report", "followup", "upload"])
def test_a_request_without_a_proof_is_pow_required_and_stores_nothing(raw, env, bodies, purpose):
    if purpose == "followup":
        file_report(raw, bodies)
    body = getattr(bodies, purpose)()
    before = env.snapshot()
    response = post(raw, purpose, body, None)
    assert response.status_code == 400 and error(response) == "pow_required"
    response = post(raw, purpose, {**body, "proof": None}, None)
    assert response.status_code == 400 and error(response) == "pow_required"
    assert env.snapshot() == before


def forged(purpose: str) -> str:
    """Well formed, easy and unexpired, but signed by a key that is not the server's."""
    return b64encode(pw.make_challenge(secrets.token_bytes(32), pw.PURPOSES[purpose], 0, int(time.time() // 60) + 10))


@pytest.mark.parametrize("purpose", ["report", "followup", "upload"])
def test_forged_challenges_are_pow_invalid(raw, env, bodies, purpose):
    if purpose == "followup":
        file_report(raw, bodies)
    body = getattr(bodies, purpose)()
    binding = pow_binding(purpose, body)
    genuine = b64decode(challenge(raw, purpose)["challenge"])
    lowered = bytearray(genuine)
    lowered[6] = 0  # difficulty 0, MAC kept
    cases = [
        b64encode(secrets.token_bytes(pw.CHALLENGE_BYTES)),  # noise
        forged(purpose),
        b64encode(bytes(lowered)),
        b64encode(genuine[:-1]),
        b64encode(genuine + b"\0"),
        "not base64!",
        b64encode(genuine).rstrip("="),  # not canonical
        "",
    ]
    before = env.snapshot()
    for forged_b64 in cases:
        try:
            nonce = pw.solve(b64decode(forged_b64), binding)
        except Exception:  # noqa: BLE001 - not even parseable: any counter
            nonce = 0
        response = post(raw, purpose, body, {"challenge": forged_b64, "nonce": nonce})
        assert response.status_code == 400 and error(response) == "pow_invalid", (forged_b64, response.text)
    assert env.snapshot() == before


@pytest.mark.parametrize("nonce", [-1, 2**53, 2**64, 2**70])
def test_counters_outside_the_safe_range_are_pow_invalid(raw, bodies, nonce):
    response = post(raw, "report", bodies.report(), {"challenge": challenge(raw, "report")["challenge"], "nonce": nonce})
    assert response.status_code == 400 and error(response) == "pow_invalid"


@pytest.mark.parametrize("proof", [{"challenge": "x"}, {"nonce": 1}, {"challenge": "x", "nonce": "1"},
                                   {"challenge": "x", "nonce": 1.0}, {"challenge": "x", "nonce": True},
                                   {"challenge": 5, "nonce": 1}, {"challenge": "x", "nonce": 1, "extra": 1}, "proof", []])
def test_a_malformed_proof_field_is_bad_request(raw, bodies, proof):
    response = raw.post(PATHS["report"], json={**bodies.report(), "proof": proof})
    assert response.status_code == 422 and error(response) == "bad_request"


def test_an_expired_challenge_is_pow_expired_until_a_new_one_is_fetched(raw, env, ctx, bodies):
    issued = challenge(raw, "report")
    body = bodies.report()
    proof = solved(issued["challenge"], pow_binding("report", body))
    expires = pw.parse_challenge(b64decode(issued["challenge"])).expires * 60
    before = env.snapshot()
    ctx.pow.clock = lambda: expires  # the first second it is no longer valid
    response = post(raw, "report", body, proof)
    assert response.status_code == 400 and error(response) == "pow_expired"
    assert env.snapshot() == before
    # A new challenge, fetched now, is good.
    fresh = solved(challenge(raw, "report")["challenge"], pow_binding("report", body))
    assert post(raw, "report", body, fresh).status_code == 201
    # And the last second of a challenge's life still counts.
    other = bodies.report(Submitter())
    issued = challenge(raw, "report")
    ctx.pow.clock = lambda: pw.parse_challenge(b64decode(issued["challenge"])).expires * 60 - 1
    assert post(raw, "report", other, solved(issued["challenge"], pow_binding("report", other))).status_code == 201


@pytest.mark.parametrize(("made_for", "used_for"), [("report", "upload"), ("upload", "report"), ("followup", "report"),
                                                    ("report", "followup")])
def test_a_challenge_for_another_purpose_is_pow_invalid(raw, env, bodies, made_for, used_for):
    file_report(raw, bodies)
    body = Bodies.upload() if used_for == "upload" else bodies.report(Submitter()) if used_for == "report" else bodies.followup()
    issued = challenge(raw, made_for)["challenge"]
    # Solved for the right bytes (a report and an upload both bind 16): only the purpose is wrong.
    binding = pow_binding(used_for, body)
    if len(binding) != pw.BINDING_BYTES[pw.PURPOSES[made_for]]:
        binding = bytes(pw.BINDING_BYTES[pw.PURPOSES[made_for]])
    before = env.snapshot()
    response = post(raw, used_for, body, solved(issued, binding))
    assert response.status_code == 400 and error(response) == "pow_invalid"
    assert env.snapshot() == before


def test_a_proof_for_one_case_is_pow_invalid_for_another(raw, env, bodies):
    alice, bob = Submitter(), Submitter()
    for_alice = solved_only_for(challenge(raw, "report")["challenge"], pow_binding("report", bodies.report(alice)),
                                pow_binding("report", bodies.report(bob)))
    before = env.snapshot()
    response = post(raw, "report", bodies.report(bob), for_alice)
    assert response.status_code == 400 and error(response) == "pow_invalid"
    assert env.snapshot() == before
    assert post(raw, "report", bodies.report(alice), for_alice).status_code == 201


def test_a_followup_proof_is_bound_to_its_case_and_its_envelope(raw, env, bodies):
    alice, bob = Submitter(), Submitter()
    file_report(raw, bodies, alice)
    file_report(raw, bodies, bob)
    first, second = alice.followup([bodies.desk], text="one"), alice.followup([bodies.desk], text="two")
    misused = (bodies.followup(alice, second), bodies.followup(bob, bob.followup([bodies.desk], text="one")))
    proof = solved_only_for(challenge(raw, "followup")["challenge"], pow_binding("followup", bodies.followup(alice, first)),
                            *(pow_binding("followup", b) for b in misused))
    before = env.snapshot()
    # The same work, spent on another envelope of the same case, or on another case.
    for body in misused:
        response = post(raw, "followup", body, proof)
        assert response.status_code == 400 and error(response) == "pow_invalid"
    assert env.snapshot() == before
    assert post(raw, "followup", bodies.followup(alice, first), proof).status_code == 201


def test_an_upload_proof_is_bound_to_its_resume_handle(raw, env):
    mine, other = secrets.token_bytes(32), secrets.token_bytes(32)
    proof = solved_only_for(challenge(raw, "upload")["challenge"], pw.upload_binding(mine), pw.upload_binding(other),
                            pw.NO_RESUME)
    before = env.snapshot()
    for body in (Bodies.upload(other), Bodies.upload()):
        response = post(raw, "upload", body, proof)
        assert response.status_code == 400 and error(response) == "pow_invalid"
    assert env.snapshot() == before
    created = post(raw, "upload", Bodies.upload(mine), proof)
    assert created.status_code == 201
    # The server names the upload after the proof.
    assert created.json()["upload_id"] == pw.proof_upload_id(b64decode(proof["challenge"]), proof["nonce"])


@pytest.mark.parametrize("purpose", ["report", "followup", "upload"])
def test_too_little_work_is_pow_invalid(raw, env, bodies, purpose):
    if purpose == "followup":
        file_report(raw, bodies)
    body = getattr(bodies, purpose)()
    issued = challenge(raw, purpose)["challenge"]
    before = env.snapshot()
    response = post(raw, purpose, body, {"challenge": issued, "nonce": short_nonce(issued, pow_binding(purpose, body))})
    assert response.status_code == 400 and error(response) == "pow_invalid"
    assert env.snapshot() == before


# -- replays -----------------------------------------------------------------------------------


def test_a_replayed_proof_buys_nothing_more(raw, env, bodies):
    body = bodies.report()
    report_proof = solved(challenge(raw, "report")["challenge"], pow_binding("report", body))
    assert post(raw, "report", body, report_proof).status_code == 201
    followup = bodies.followup()
    followup_proof = solved(challenge(raw, "followup")["challenge"], pow_binding("followup", followup))
    assert post(raw, "followup", followup, followup_proof).status_code == 201
    plain_proof = solved(challenge(raw, "upload")["challenge"], pw.NO_RESUME)
    assert post(raw, "upload", Bodies.upload(), plain_proof).status_code == 201
    handle = secrets.token_bytes(32)
    resumable = Bodies.upload(handle)
    resumable_proof = solved(challenge(raw, "upload")["challenge"], pw.upload_binding(handle))
    assert post(raw, "upload", resumable, resumable_proof).status_code == 201
    before = env.snapshot()
    again = [
        (post(raw, "report", body, report_proof), 409, "case_exists"),
        (post(raw, "followup", followup, followup_proof), 409, "followup_exists"),
        (post(raw, "upload", Bodies.upload(), plain_proof), 400, "pow_invalid"),
        (post(raw, "upload", resumable, resumable_proof), 409, "upload_exists"),
    ]
    for response, status, code in again:
        assert (response.status_code, error(response)) == (status, code)
    assert env.snapshot() == before
    # Replays are not load: the difficulty is where it was.
    assert challenge(raw, "report")["difficulty"] == POW_TEST_BITS


# -- difficulty and load -----------------------------------------------------------------------


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def loaded(settings, clock):
    """An app with base 2 bits, at most 5, rising above 3 proofs a minute; its load clock fake."""
    settings.pow_bits, settings.pow_max_bits, settings.pow_load_per_minute = 2, 5, 3
    app = create_app(settings, today=clock)
    monotonic = FakeMonotonic()
    app.state.ctx.pow.load.monotonic = monotonic
    with TestClient(app) as c:
        yield c, monotonic, app.state.ctx


def spend_uploads(client, n: int) -> None:
    for _ in range(n):
        issued = challenge(client, "upload")["challenge"]
        assert post(client, "upload", Bodies.upload(), solved(issued, pw.NO_RESUME)).status_code == 201


def test_difficulty_rises_with_load_and_falls_back(loaded):
    client, monotonic, ctx = loaded
    seen = []
    for spent in (3, 1, 2, 1, 5, 1, 12, 1, 100):  # cumulative: 3, 4, 6, 7, 12, 13, 25, 26, 126
        spend_uploads(client, spent)
        seen.append(challenge(client, "report")["difficulty"])
        monotonic.now += 0.2
    # Up to 3 a minute: 2 bits. Above 3: +1; above 6: +2; above 12: +3; then the cap, 5 bits.
    assert seen == [2, 3, 3, 4, 4, 5, 5, 5, 5]
    # The challenge says the same as the answer around it.
    assert pw.parse_challenge(b64decode(challenge(client, "upload")["challenge"])).difficulty == 5
    # A minute later the load has gone, and so has the extra work.
    monotonic.now += 61
    assert challenge(client, "report")["difficulty"] == 2
    # Part of the window: 4 spent 30 s ago, 3 now: 7 in the last minute, then 3 once the 4 age out.
    spend_uploads(client, 4)
    monotonic.now += 30
    spend_uploads(client, 3)
    assert challenge(client, "report")["difficulty"] == 4
    monotonic.now += 31
    assert challenge(client, "report")["difficulty"] == 2


def test_refused_requests_are_not_load(loaded, org):
    client, monotonic, ctx = loaded
    bodies = Bodies(org.desks["desk-1"])
    for _ in range(10):
        issued = challenge(client, "report")["challenge"]
        body = bodies.report(Submitter())
        short = {"challenge": issued, "nonce": short_nonce(issued, pow_binding("report", body))}
        assert error(post(client, "report", body, short)) == "pow_invalid"
        assert error(post(client, "report", body, None)) == "pow_required"
    assert challenge(client, "report")["difficulty"] == 2


def test_a_challenge_from_before_the_load_rose_is_pow_expired_beyond_one_bit(loaded):
    client, monotonic, ctx = loaded
    easy = challenge(client, "upload")["challenge"]
    assert pw.parse_challenge(b64decode(easy)).difficulty == 2
    spend_uploads(client, 4)
    assert challenge(client, "upload")["difficulty"] == 3
    # One bit below what the server asks now: still accepted.
    first = pw.solve(b64decode(easy), pw.NO_RESUME)
    assert post(client, "upload", Bodies.upload(), {"challenge": easy, "nonce": first}).status_code == 201
    three = challenge(client, "upload")["challenge"]
    spend_uploads(client, 1)  # 6 spent
    spend_uploads(client, 1)  # 7 spent: 4 bits
    assert challenge(client, "upload")["difficulty"] == 4
    # Two bits below: stale, fetch a new one (another counter for the same challenge, since
    # the first one's upload exists).
    second = pw.solve(b64decode(easy), pw.NO_RESUME, first + 1)
    response = post(client, "upload", Bodies.upload(), {"challenge": easy, "nonce": second})
    assert response.status_code == 400 and error(response) == "pow_expired"
    assert post(client, "upload", Bodies.upload(), solved(three, pw.NO_RESUME)).status_code == 201


# -- settings ----------------------------------------------------------------------------------


POW_SETTINGS = ("pow_key_file", "pow_bits", "pow_max_bits", "pow_load_per_minute", "pow_lifetime_minutes")


def test_pow_settings_defaults_are_the_documented_ones(monkeypatch):
    for name in POW_SETTINGS:
        monkeypatch.delenv(f"QUIETLINE_{name.upper()}", raising=False)
    s = Settings()
    documented = (REPO_ROOT / "docs" / "DEVELOPMENT.md").read_text(encoding="utf-8")
    for name in POW_SETTINGS:
        value = getattr(s, name)
        shown = str(value.relative_to(REPO_ROOT)) if isinstance(value, Path) else str(value)
        assert f"| `QUIETLINE_{name.upper()}` | `{shown}` |" in documented, name
    assert s.pow_key_file == REPO_ROOT / "var/dev/pow.key"
    assert s.pow_bits < s.pow_max_bits


def test_pow_settings_read_the_environment_and_refuse_nonsense(monkeypatch, tmp_path):
    monkeypatch.setenv("QUIETLINE_POW_KEY_FILE", str(tmp_path / "k"))
    monkeypatch.setenv("QUIETLINE_POW_BITS", "6")
    monkeypatch.setenv("QUIETLINE_POW_MAX_BITS", "9")
    monkeypatch.setenv("QUIETLINE_POW_LOAD_PER_MINUTE", "500")
    s = Settings()
    assert (s.pow_key_file, s.pow_bits, s.pow_max_bits, s.pow_load_per_minute) == (tmp_path / "k", 6, 9, 500)
    for name, value in (("POW_MAX_BITS", "5"), ("POW_BITS", "65"), ("POW_BITS", "-1"), ("POW_LOAD_PER_MINUTE", "0"),
                        ("POW_LIFETIME_MINUTES", "0")):
        monkeypatch.setenv(f"QUIETLINE_{name}", value)
        with pytest.raises(ValidationError):
            Settings()
        monkeypatch.setenv("QUIETLINE_POW_BITS", "6")
        monkeypatch.setenv("QUIETLINE_POW_MAX_BITS", "9")
        monkeypatch.setenv("QUIETLINE_POW_LOAD_PER_MINUTE", "500")
        monkeypatch.delenv("QUIETLINE_POW_LIFETIME_MINUTES", raising=False)
