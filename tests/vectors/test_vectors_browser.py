"""client_web/js/ in real Chromium, under the production CSP, passes every shared vector, with
WebAssembly and without it (Tor Browser "Safer" disables it; libsodium.js then runs its asm.js
build). The page also seals envelopes and attachment streams that Python (crypto/) opens,
and makes a case key whose derivations Python reproduces.

Each mode runs once (module fixture `run`); the tests below assert on its results, so a
failure names the file, the section and the item.
"""

import base64
import json
import time

import pytest

from crypto import attachment, casekey, envelope, kdf, upload
from crypto.attachment import AttachmentOpener, StreamParams
from crypto.desk import DeskKeys
from crypto.encoding import json_bytes

from .conftest import VECTORS

pytestmark = pytest.mark.e2e  # drives a real Chromium (pyproject marker)

FILES = ("encoding", "casekey", "kdf", "padding", "signing", "manifest", "envelope", "attachment", "reply",
         "report", "upload", "pow")
MODULES = ("sodium", "errors", "bytes", "encoding", "casekey", "kdf", "padding", "signing", "manifest", "envelope",
           "attachment", "reply", "report_schema", "upload_keys", "pow")
ATTACHMENT_SIZES = [0, 1, 1000, 262144, 262145, 600000]
RESUME_REQUEST = {"case_key_text": "8VPH-K9QB-WRMW-18ZP-BH68-3MVX-VMNB", "size": 600000, "sent_before_drop": 1,
                  "piece_bytes": 250000}

# Runs before any page script: records CSP violations wherever they happen.
VIOLATION_RECORDER = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber}`);
}, true);
"""

RUN = """async ([modules, request, RESUME_REQUEST]) => {
  const m = {};
  for (const name of modules) m[name] = await import(`/js/${name}.js`);
  const started = performance.now();
  await m.sodium.loadSodium();
  const loadMs = performance.now() - started;
  const runner = await import('/__vectors__/runner.mjs');
  const vectors = await runner.fetchVectors('/__vectors__/');
  const t0 = performance.now();
  const result = runner.runVectors(m, vectors);
  const vectorsMs = performance.now() - t0;
  const sealed = runner.sealForPython(m, request);
  const resumed = await runner.resumeForPython(m, RESUME_REQUEST);
  const solved = await runner.solveInPage(m, vectors);
  // libsodium.js keeps useBackupModule on its module object until it swaps in the asm.js
  // build, so its presence tells which build is running.
  const build = typeof window.libsodium.useBackupModule === 'function' ? 'wasm' : 'asmjs';
  return { ...result, sealed, resumed, solved, build, webAssembly: typeof WebAssembly, loadMs, vectorsMs,
           sameInstance: m.sodium.getSodium() === window.sodium };
}"""


def load(name: str) -> dict:
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))


def expected_counts() -> dict[str, int]:
    return {f"{f}/{k}": len(v) for f in FILES for k, v in load(f).items() if isinstance(v, list)}


def seal_request() -> dict:
    ev = load("envelope")
    case = kdf.derive_case_keys(casekey.parse(ev["case_key_text"]))
    cid = kdf.case_id(case.lookup)
    report = {
        "v": 1, "kind": "report", "case_id": cid, "day": "2026-11-23", "lang": "zh",
        "reply_pk": base64.b64encode(case.reply_public).decode(), "sign_pk": base64.b64encode(case.sign_public).decode(),
        "report": {"schema": "quietline.report/1", "country": "XX",
                   "text": "我在会议后受到威胁。\n\"quoted\" \\ tab\t ctl\x01 \u2028 😀 émigré Ελλάδα",
                   "extra": {"z": [1, 2, {"b": None, "a": True}], "a": -7}},
        "attachments": [{"upload_id": "ab" * 16, "name": "доклад.pdf", "type": "application/pdf", "size": 600000,
                         "key": base64.b64encode(bytes(32)).decode(), "header": base64.b64encode(bytes(24)).decode(),
                         "chunks": 3}],
    }
    followup = {"v": 1, "kind": "followup", "case_id": cid, "id": "cd" * 16, "day": "2026-11-24",
                "text": "متابعة: " + "ف" * 3000, "attachments": []}
    return {
        "manifest_b64": ev["manifest_b64"],
        "root_public_hex": ev["root_public_hex"],
        "case_key_text": ev["case_key_text"],
        "envelopes": [
            {"kind": "report", "body": report, "desks": ["desk-1", "desk-2", "desk-3"]},
            {"kind": "followup", "body": followup, "desks": ["desk-2"]},
            {"kind": "report", "body": {**report, "report": {**report["report"], "text": "x" * 70000}},
             "desks": ["desk-3", "desk-1"]},
        ],
        "attachment_sizes": ATTACHMENT_SIZES,
    }


@pytest.fixture(scope="module", params=["wasm", "no-wasm"])
def run(request, chromium, static_server):
    mode = request.param
    context = chromium.new_context()
    if mode == "no-wasm":
        context.add_init_script("delete globalThis.WebAssembly")
    context.add_init_script(VIOLATION_RECORDER)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console.{msg.type}: {msg.text}") if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url} {req.failure}"))
    page.on("response", lambda res: problems.append(f"HTTP {res.status}: {res.url}") if res.status >= 400 else None)
    try:
        response = page.goto(static_server.url + "/")
        assert response is not None and "script-src 'self' 'wasm-unsafe-eval'" in response.headers["content-security-policy"]
        started = time.monotonic()
        sealing = seal_request()
        result = page.evaluate(RUN, [list(MODULES), sealing, RESUME_REQUEST])
        result["seconds"] = time.monotonic() - started
        result["mode"] = mode
        result["request"] = sealing
        result["violations"] = page.evaluate("window.__violations")
        result["problems"] = problems
        yield result
    finally:
        context.close()


def test_libsodium_build(run):
    if run["mode"] == "no-wasm":
        assert run["webAssembly"] == "undefined"
        assert run["build"] == "asmjs"
    else:
        assert run["webAssembly"] == "object"
        assert run["build"] == "wasm"
    assert run["sameInstance"] is True


@pytest.mark.parametrize("file", FILES)
def test_vector_file(run, file):
    counts = {k: v for k, v in run["counts"].items() if k.startswith(f"{file}/")}
    expected = {k: v for k, v in expected_counts().items() if k.startswith(f"{file}/")}
    assert expected and all(n > 0 for n in expected.values())
    assert counts == expected, "the browser runner skipped or invented sections"
    failures = [f for f in run["failures"] if f.startswith(f"{file}/")]
    assert not failures, "\n".join(failures)


def test_no_failures_outside_files(run):
    assert not [f for f in run["failures"] if f.split("/")[0] not in FILES], run["failures"]


def test_no_console_errors_or_csp_violations(run):
    assert run["violations"] == []
    assert run["problems"] == []


def desks_by_id() -> dict[str, DeskKeys]:
    return {
        x["id"]: DeskKeys(x["id"], x["name"], bytes.fromhex(x["box_public_hex"]), bytes.fromhex(x["box_secret_hex"]),
                          bytes.fromhex(x["sign_public_hex"]), bytes.fromhex(x["sign_secret_hex"]))
        for x in load("envelope")["desks"]
    }


def test_js_sealed_envelopes_open_in_python(run):
    ev = load("envelope")
    case = kdf.derive_case_keys(casekey.parse(ev["case_key_text"]))
    desks = desks_by_id()
    asked = run["request"]["envelopes"]
    made = run["sealed"]["envelopes"]
    assert len(made) == len(asked) == 3
    for want, got in zip(asked, made):
        data = base64.b64decode(got["envelope_b64"], validate=True)
        header = envelope.parse_header(data, expect_kind=want["kind"])
        assert [r.hex() for r in header.recipients] == [desks[d].public.key_id.hex() for d in want["desks"]]
        for desk in desks.values():
            if desk.id in want["desks"]:
                opened = envelope.open_envelope(data, desk.public, desk.box_secret)
                opened.verify(case.sign_public)  # signed by the case key the page derived
                assert opened.body == want["body"]
                assert opened.body_bytes == json_bytes(want["body"])  # byte-identical canonical JSON
            else:
                with pytest.raises(Exception) as info:
                    envelope.open_envelope(data, desk.public, desk.box_secret)
                assert getattr(info.value, "code", None) == "not_a_recipient"


def test_js_sealed_attachments_open_in_python(run):
    made = run["sealed"]["attachments"]
    assert [a["size"] for a in made] == ATTACHMENT_SIZES
    cc = attachment.CHUNK_CIPHERTEXT
    for a in made:
        size = a["size"]
        params = StreamParams(base64.b64decode(a["key_b64"]), base64.b64decode(a["header_b64"]), size, a["chunks"])
        assert a["chunks"] == attachment.chunks_for_size(size)
        data = base64.b64decode(a["ciphertext_b64"], validate=True)
        assert len(data) == a["chunks"] * cc
        opener = AttachmentOpener(params)
        plain = b"".join(opener.open_chunk(data[i * cc:(i + 1) * cc]) for i in range(a["chunks"]))
        opener.finish()
        assert plain == bytes((31 * i + 7) & 255 for i in range(size))


def test_js_generated_case_key_matches_python(run):
    g = run["sealed"]["generated_case_key"]
    key = base64.b64decode(g["key_b64"])
    assert len(key) == 16 and key != bytes(16)
    assert casekey.encode(key) == g["text"]
    assert casekey.parse(g["text"]) == key
    keys = kdf.derive_case_keys(key)
    assert base64.b64decode(g["lookup_b64"]) == keys.lookup
    assert kdf.case_id(keys.lookup) == g["case_id"]
    assert base64.b64decode(g["reply_public_b64"]) == keys.reply_public
    assert base64.b64decode(g["sign_public_b64"]) == keys.sign_public


def test_js_resumed_stream_opens_in_python(run):
    """The page hashed a Blob in pieces, derived the upload's keys, sealed a chunk, "lost the
    connection", restarted from the header and sealed the rest: Python derives the same keys
    and opens the assembled stream."""
    r = run["resumed"]
    size = RESUME_REQUEST["size"]
    data = bytes((31 * i + 7) & 255 for i in range(size))
    key = casekey.parse(RESUME_REQUEST["case_key_text"])
    digest = upload.file_hash([data])
    handle, stream_key = upload.upload_keys(key, digest)
    assert base64.b64decode(r["file_hash_b64"]) == digest
    assert base64.b64decode(r["resume_b64"]) == handle
    assert base64.b64decode(r["stream_key_b64"]) == stream_key
    assert r["resume_index"] == upload.resume_index(handle)
    assert r["progress"] == [[250000, size], [500000, size], [size, size]]
    assert r["aborted"] == "AbortError"
    params = StreamParams(stream_key, base64.b64decode(r["header_b64"]), size, r["chunks"])
    assert r["chunks"] == 3
    assert attachment.open_bytes(params, base64.b64decode(r["ciphertext_b64"])) == data


def test_proof_of_work_solved_in_slices(run):
    """The page's solver finds the counter Python found, a few milliseconds at a time with
    timers firing in between (the page is not frozen), calling libsodium's hash directly in
    both builds, and stops when aborted."""
    s = run["solved"]
    assert s["nonce"] == s["want"]
    assert s["slices"] >= 2 and s["increasing"], s
    assert s["ticks"] >= 3, s  # a 1 ms interval (clamped to 4 ms by Chromium) kept firing
    assert s["aborted"] == "AbortError"
    assert s["direct"] is True
    print(f"\n{run['mode']}: proof of work {s['hashesPerSecond']:.0f} hashes/s in 2 ms slices ({s['slices']} slices, {s['ms']:.0f} ms)")


def test_timings_reported(run, record_property):
    """Not a benchmark: records how long each mode took, and catches a pathological slowdown."""
    record_property("mode", run["mode"])
    record_property("load_ms", round(run["loadMs"]))
    record_property("vectors_ms", round(run["vectorsMs"]))
    print(f"\n{run['mode']}: libsodium load {run['loadMs']:.0f} ms, vectors {run['vectorsMs']:.0f} ms, "
          f"page total {run['seconds']:.2f} s")
    assert run["seconds"] < 120


def test_recorder_sees_violations(chromium, static_server):
    """Control: the CSP is enforced and the recorder catches what it blocks, so the empty
    violation lists above mean something."""
    context = chromium.new_context()
    context.add_init_script(VIOLATION_RECORDER)
    page = context.new_page()
    try:
        page.goto(static_server.url + "/")
        outcome = page.evaluate("""async () => {
          // DevTools-injected code is exempt from CSP only until its first await.
          await new Promise((r) => setTimeout(r, 0));
          let evalResult;
          try { eval('1'); evalResult = 'ran'; } catch (e) { evalResult = 'blocked'; }
          const s = document.createElement('script');
          s.textContent = 'window.__inline = 1';
          document.head.append(s);
          let fetchResult;
          try { await fetch('http://127.0.0.2:9/'); fetchResult = 'ran'; } catch (e) { fetchResult = 'blocked'; }
          await new Promise((r) => setTimeout(r, 100));
          return { evalResult, inline: window.__inline === 1, fetchResult };
        }""")
        violations = page.evaluate("window.__violations")
    finally:
        context.close()
    assert outcome == {"evalResult": "blocked", "inline": False, "fetchResult": "blocked"}
    directives = sorted(v.split(" ")[0] for v in violations)
    assert directives == ["connect-src", "script-src", "script-src-elem"], violations
