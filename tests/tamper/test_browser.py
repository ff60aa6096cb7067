"""The browser's own modules (client_web/js) in real Chromium, under the production CSP,
refuse every tampered artifact the page can meet with the same code as crypto/: the
envelope framing check, the replies a lookup serves (openReplies, which the case view uses),
the recipients manifest and attachment streams.

The whole table runs in one page and one evaluate (module fixture `results`), so the
browser starts once; each row is then its own test."""

import hashlib
import json
from pathlib import Path

import pytest

from crypto.encoding import b64encode
from crypto.envelope import parse_header
from crypto.errors import ProtocolError

from .outcome import check
from .table import ACCEPTED, VALID, Filed, ManifestFile, Served, Stream, ids, rows_for
from .world import DAY

pytestmark = pytest.mark.e2e  # drives a real Chromium (pyproject marker)

MODULES = ("sodium", "errors", "encoding", "casekey", "kdf", "manifest", "envelope", "reply", "attachment")
BROWSER_KINDS = ("report", "followup", "withdrawal", "reply", "manifest", "attachment")

RUN = """async ({ modules, cases, manifestRef, root, attachment, pool, checks }) => {
  const m = {};
  for (const name of modules) m[name] = await import(`/js/${name}.js`);
  await m.sodium.loadSodium();
  const { ProtocolError } = m.errors;
  const { b64decode } = m.encoding;
  const bytes = (ref) => b64decode(pool[ref]);
  const keys = {};
  for (const [name, text] of Object.entries(cases)) {
    const k = m.kdf.deriveCaseKeys(m.casekey.parse(text));
    keys[name] = { keys: k, caseId: m.kdf.caseId(k.lookup) };
  }
  const rootPublic = b64decode(root);
  const manifest = m.manifest.verifyManifest(bytes(manifestRef), rootPublic);
  const params = { key: b64decode(attachment.key), header: b64decode(attachment.header), size: attachment.size,
                   chunks: attachment.chunks };
  const outcome = (error) => (error instanceof ProtocolError ? error.code : `threw ${error && error.stack ? error.stack : error}`);
  const one = (fn) => {
    try {
      fn();
      return ['accepted'];
    } catch (error) {
      return [outcome(error)];
    }
  };
  const run = {
    envelope: (c) => one(() => m.envelope.parseHeader(bytes(c.envelope), { expectKind: c.kind })),
    reply: (c) => {
      const k = keys[c.case];
      const served = c.replies.map(([seq, ref]) => ({ seq, blob: bytes(ref) }));
      try {
        return m.reply.openReplies(served, manifest, k.keys.replyPublic, k.keys.replySecret, k.caseId)
          .map((o) => (o instanceof ProtocolError ? o.code : 'accepted'));
      } catch (error) {
        return [outcome(error)];
      }
    },
    manifest: (c) => one(() => m.manifest.verifyManifest(bytes(c.data), rootPublic)),
    attachment: (c) => one(() => {
      const opener = new m.attachment.AttachmentOpener(params);
      for (const ref of c.chunks) opener.openChunk(bytes(ref));
      opener.finish();
    }),
  };
  const out = {};
  for (const c of checks) out[c.name] = run[c.op](c);
  return out;
}"""


class Pool:
    """Each distinct byte string once (the attachment chunks recur in many rows)."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def ref(self, data: bytes) -> str:
        key = hashlib.blake2b(data, digest_size=12).hexdigest()
        self.items.setdefault(key, b64encode(data))
        return key


def browser_check(name: str, artifact, pool: Pool) -> dict:
    if isinstance(artifact, Filed):
        return {"name": name, "op": "envelope", "envelope": pool.ref(artifact.envelope), "kind": artifact.envelope_kind}
    if isinstance(artifact, Served):
        return {"name": name, "op": "reply", "case": artifact.case,
                "replies": [[seq, pool.ref(blob)] for seq, blob in artifact.replies]}
    if isinstance(artifact, ManifestFile):
        return {"name": name, "op": "manifest", "data": pool.ref(artifact.data)}
    if isinstance(artifact, Stream):
        return {"name": name, "op": "attachment", "chunks": [pool.ref(c) for c in artifact.chunks]}
    raise AssertionError(f"{name}: the browser has no reader for {type(artifact).__name__}")


def module_checks(page, world) -> dict:
    pool = Pool()
    checks = [browser_check(f"valid {kind}", VALID[kind](world), pool) for kind in BROWSER_KINDS]
    checks += [browser_check(t.name, t.build(world), pool) for t in rows_for("browser")]
    request = {
        "modules": list(MODULES),
        "cases": {c.name: c.key_text for c in (world.a, world.b)},
        "manifestRef": pool.ref(world.manifest_bytes),
        "root": b64encode(world.root_pk),
        "attachment": {"key": b64encode(world.att.key), "header": b64encode(world.att.header), "size": world.att.size,
                       "chunks": world.att.chunks},
        "pool": pool.items,
        "checks": checks,
    }
    out = page.evaluate(RUN, request)
    assert set(out) == {c["name"] for c in checks}
    return out


# -- the page's own flows: what a person opening their case meets --------------------------------

TRUST = """async () => {
  const { loadTrust } = await import('/js/ui/trust.js');
  try {
    await loadTrust();
    return 'accepted';
  } catch (error) {
    return error.code || `threw ${error}`;
  }
}"""

OPEN_CASE = """async (keyText) => {
  const { openCase } = await import('/js/ui/casefile.js');
  const session = await openCase(keyText);
  return { replies: session.replies.map((r) => r.seq), refused: session.refused };
}"""


class MaliciousServer:
    """What the page fetches, answered by the test as a malicious server would: the real
    deployment file, and the manifest and lookup answer of the moment."""

    def __init__(self, page, world):
        self.manifest = world.manifest_bytes
        self.lookup: dict = {}
        deployment = json.dumps({"v": 1, "org": world.manifest.org, "root_pk": b64encode(world.root_pk)})
        page.route("**/deployment.json", lambda route: route.fulfill(status=200, content_type="application/json",
                                                                       body=deployment))
        page.route("**/api/v1/manifest", lambda route: route.fulfill(status=200, content_type="application/octet-stream",
                                                                       body=self.manifest))
        page.route("**/api/v1/cases/lookup", lambda route: route.fulfill(status=200, content_type="application/json",
                                                                           body=json.dumps(self.lookup)))


def flow_checks(page, world) -> dict:
    server = MaliciousServer(page, world)
    out = {}
    # Tampered manifests first: a refused one is not kept, the genuine one is, for the case view.
    manifests = [(t.name, t.build(world)) for t in rows_for("browser") if t.artifact == "manifest"]
    for name, artifact in [*manifests, ("valid manifest", VALID["manifest"](world))]:
        server.manifest = artifact.data
        out[name] = page.evaluate(TRUST)
    replies = [(t.name, t.build(world)) for t in rows_for("browser") if t.artifact == "reply"]
    for name, artifact in [("valid reply", VALID["reply"](world)), *replies]:
        server.lookup = {"found": True, "case_id": world.case(artifact.case).case_id, "day": DAY, "followups": 0,
                         "replies": [{"seq": seq, "day": DAY, "blob": b64encode(blob)} for seq, blob in artifact.replies],
                         "pad": ""}
        out[name] = page.evaluate(OPEN_CASE, world.case(artifact.case).key_text)
    return out


@pytest.fixture(scope="module")
def session(chromium, static_server, world):
    """One page for the whole table: the modules' checks, then the page's own flows."""
    context = chromium.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: problems.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    try:
        response = page.goto(static_server.url + "/")
        assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
        modules = module_checks(page, world)
        flows = flow_checks(page, world)
    finally:
        context.close()
    assert problems == []
    return {"modules": modules, "flows": flows}


@pytest.fixture(scope="module")
def results(session):
    return session["modules"]


@pytest.mark.parametrize("kind", BROWSER_KINDS)
def test_valid_artifact_is_accepted(results, kind):
    check(results[f"valid {kind}"], ACCEPTED, f"valid {kind}")


@pytest.mark.parametrize("tamper", rows_for("browser"), ids=ids(rows_for("browser")))
def test_tampered_artifact_is_refused(results, world, tamper):
    check(results[tamper.name], tamper.expect.browser, tamper.name)
    if tamper.artifact in ("report", "followup", "withdrawal"):
        # The page's framing check and crypto/'s are one rule: the same verdict.
        artifact = tamper.build(world)
        try:
            parse_header(artifact.envelope, expect_kind=artifact.envelope_kind)
            python = ACCEPTED
        except ProtocolError as exc:
            python = exc.code
        assert results[tamper.name] == [python]


# -- the page's flows ----------------------------------------------------------------------------

CATALOGUES = Path(__file__).resolve().parents[2] / "client_web" / "i18n"
MANIFEST_ROWS = [t for t in rows_for("browser") if t.artifact == "manifest"]
REPLY_ROWS = [t for t in rows_for("browser") if t.artifact == "reply"]


def translated(code: str) -> bool:
    return all(code in json.loads(p.read_text(encoding="utf-8"))["errors"] for p in sorted(CATALOGUES.glob("*.json")))


def test_the_page_trusts_the_genuine_manifest(session):
    assert session["flows"]["valid manifest"] == ACCEPTED


@pytest.mark.parametrize("tamper", MANIFEST_ROWS, ids=ids(MANIFEST_ROWS))
def test_the_page_refuses_a_tampered_manifest(session, tamper):
    # However the manifest was changed, the person reads that the service's keys failed
    # their check and that nothing should be sent.
    assert session["flows"][tamper.name] == "bad_manifest"
    assert translated("bad_manifest")


def test_the_case_view_shows_genuine_replies(session):
    assert session["flows"]["valid reply"] == {"replies": [1, 2], "refused": []}


@pytest.mark.parametrize("tamper", REPLY_ROWS, ids=ids(REPLY_ROWS))
def test_the_case_view_refuses_a_tampered_reply(session, world, tamper):
    """The case view (casefile.openCase) shows only what opens, refuses the rest with the
    row's code, and the page has words for that code in every language."""
    got = session["flows"][tamper.name]
    served = tamper.build(world).replies
    assert got["refused"] and set(got["refused"]) == {tamper.expect.browser}, got
    assert len(got["replies"]) + len(got["refused"]) == len(served)
    assert len(set(got["replies"])) == len(got["replies"])  # no seq shown twice
    assert translated(tamper.expect.browser)
