"""The tamper table: every artifact Quietline moves, built valid, changed one way, and the
stable code each layer that can see the change refuses it with.

A row names its artifact, how the valid one is built (`valid`, from the shared World), the
change (`mutate`) and, per layer, what must happen (`Expect`):

- a code: the layer refuses the artifact with exactly that code (and stores nothing);
- ACCEPTED: the layer handles this artifact but by design cannot see this change (the
  server holds no key; the browser's and crypto/'s framing checks run without one), so the
  test pins that it is taken, and a later layer in the row refuses it;
- None: the layer never handles this artifact (the server makes inbound bundles, the
  workstation never reads replies, the browser has no bundle reader...).

Layers, per artifact:

| artifact | server | workstation | python (crypto/) | browser (client_web/js in Chromium) |
|---|---|---|---|---|
| report, followup, withdrawal | filed through the API (a withdrawal: `POST /cases/withdraw`) | `ws import` of an inbound bundle carrying it | `parse_header` then `open_envelope` as desk-1 | `parseHeader` (framing: the page only seals) |
| reply | in desk-1's outbound bundle | — | `open_replies` for case a | `openReplies` for case a |
| inbound | — | `ws import` | `read_bundle` | — |
| outbound | `POST /desk/outbound` | — | `read_bundle` with the manifest | — |
| manifest | the server starting with it | — | `verify_manifest` | `verifyManifest` |
| attachment | chunks uploaded, then filed | `ws import` | `AttachmentOpener`, chunk by chunk | `AttachmentOpener`, chunk by chunk |
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Union

from crypto.bundle import INBOUND, OUTBOUND
from crypto.encoding import b64decode, b64encode, json_bytes, json_load
from crypto.manifest import Manifest, sign_manifest

from .world import World

ACCEPTED = "accepted"
LAYERS = ("server", "workstation", "python", "browser")

# Envelope layout with the World's two recipients (docs/PROTOCOL.md, "Envelope").
ENTRY = 88
NONCE_AT = 7 + 2 * ENTRY
CIPHERTEXT_AT = NONCE_AT + 24


# -- artifacts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filed:
    """An envelope as a submitter files it and an inbound bundle then carries it."""

    kind: str  # where it is filed: "report" (a new case), "followup" or "withdrawal"
    case: str  # the case it is filed under: "a" or "b"
    envelope: bytes
    seq: int = 1  # a follow-up's number
    before: tuple["Filed", ...] = ()  # filed first and accepted (a replay files one again)

    @property
    def envelope_kind(self) -> str:
        """The envelope kind its filing expects: a withdrawal is a follow-up envelope."""
        return "report" if self.kind == "report" else "followup"


@dataclass(frozen=True)
class Served:
    """Replies as a lookup of `case` serves them: (seq served under, blob), in order."""

    case: str
    replies: tuple[tuple[int, bytes], ...]


@dataclass(frozen=True)
class BundleFile:
    data: bytes
    pushed_by: str = "desk-1"  # outbound: whose desk token pushes it
    before: tuple[bytes, ...] = ()  # outbound: pushed first and applied (a replay)


@dataclass(frozen=True)
class ManifestFile:
    data: bytes


@dataclass(frozen=True)
class Stream:
    """Case a's attachment (World.att) as the server holds it: chunks by index; an inbound
    bundle carries it as an item of `case` announcing `announced` chunks (the upload's count
    unless changed)."""

    chunks: tuple[bytes, ...]
    case: str = "a"
    announced: int | None = None


Artifact = Union[Filed, Served, BundleFile, ManifestFile, Stream]

VALID: dict[str, Callable[[World], Artifact]] = {
    "report": lambda w: Filed("report", "a", w.report_a),
    "followup": lambda w: Filed("followup", "a", w.followup_a),
    "withdrawal": lambda w: Filed("withdrawal", "a", w.withdrawal_a),
    "reply": lambda w: Served("a", ((1, w.r1), (2, w.r2))),
    "inbound": lambda w: BundleFile(w.inbound()),
    "outbound": lambda w: BundleFile(w.outbound()),
    "manifest": lambda w: ManifestFile(w.manifest_bytes),
    "attachment": lambda w: Stream(w.att_chunks),
}


@dataclass(frozen=True)
class Expect:
    """Per layer: the code it refuses with, ACCEPTED, or None where it never sees this artifact."""

    server: str | None = None
    workstation: str | None = None
    python: str | None = None
    browser: str | None = None

    def of(self, layer: str) -> str | None:
        return getattr(self, layer)


@dataclass(frozen=True)
class Tamper:
    name: str
    artifact: str  # a key of VALID
    valid: Callable[[World], Artifact]  # how the artifact is built valid
    mutate: Callable[[World, Artifact], Artifact]  # the change
    expect: Expect

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers this row applies to."""
        return tuple(layer for layer in LAYERS if self.expect.of(layer) is not None)

    def build(self, world: World) -> Artifact:
        return self.mutate(world, self.valid(world))


# -- byte changes -------------------------------------------------------------------------------

Bytes = Callable[[bytes], bytes]


def flip(offset: int, bit: int = 1) -> Bytes:
    def change(data: bytes) -> bytes:
        out = bytearray(data)
        out[offset] ^= bit
        return bytes(out)

    return change


def set_byte(offset: int, value: int) -> Bytes:
    def change(data: bytes) -> bytes:
        out = bytearray(data)
        out[offset] = value
        return bytes(out)

    return change


def cut(n: int) -> Bytes:
    return lambda data: data[:-n]


def keep(n: int) -> Bytes:
    return lambda data: data[:n]


def append(extra: bytes) -> Bytes:
    return lambda data: data + extra


def at(marker: bytes, delta: int, change: Callable[[int], Bytes]) -> Bytes:
    """`change` at the offset of `marker` (its first occurrence) plus `delta`."""
    return lambda data: change(data.index(marker) + delta)(data)


def drop_recipient(index: int) -> Bytes:
    def change(env: bytes) -> bytes:
        start = 7 + index * ENTRY
        return env[:6] + bytes([env[6] - 1]) + env[7:start] + env[start + ENTRY:]

    return change


def duplicate_recipient(index: int) -> Bytes:
    def change(env: bytes) -> bytes:
        end = 7 + env[6] * ENTRY
        start = 7 + index * ENTRY
        entry = env[start:start + ENTRY]
        return env[:6] + bytes([env[6] + 1]) + env[7:end] + entry + env[end:]

    return change


# -- changes to artifacts -----------------------------------------------------------------------


def envelope(change: Bytes):
    return lambda w, f: replace(f, envelope=change(f.envelope))


def refiled(**fields):
    """The same bytes filed elsewhere (another case, or as the other kind)."""
    return lambda w, f: replace(f, **fields)


def swapped_in(get: Callable[[World], bytes]):
    return lambda w, f: replace(f, envelope=get(w))


def replayed_followup(w: World, f: Filed) -> Filed:
    """The same follow-up filed again, as the next follow-up of the case."""
    return replace(f, seq=f.seq + 1, before=(f,))


def reply_blob(index: int, change: Bytes):
    def mutate(w, s: Served) -> Served:
        replies = list(s.replies)
        seq, blob = replies[index]
        replies[index] = (seq, change(blob))
        return replace(s, replies=tuple(replies))

    return mutate


def served(make: Callable[[World], list[tuple[int, bytes]]]):
    return lambda w, s: replace(s, replies=tuple(make(w)))


def bundle(change: Bytes):
    return lambda w, b: replace(b, data=change(b.data))


def rebuilt(make: Callable[[World], bytes], **fields):
    return lambda w, b: replace(b, data=make(w), **fields)


def pushed_twice(w, b: BundleFile) -> BundleFile:
    return replace(b, before=(b.data,))


def manifest_file(change: Bytes):
    return lambda w, m: replace(m, data=change(m.data))


def manifest_made(make: Callable[[World], bytes]):
    return lambda w, m: replace(m, data=make(w))


def outer(data: bytes, **changes) -> bytes:
    """A manifest file with fields of its outer JSON changed (the body and signature kept)."""
    return json_bytes({**json_load(data, what="manifest"), **changes})


def body_changed(change: Callable[[World, dict], dict]):
    """The manifest file with its body changed and its old signature kept."""

    def mutate(w: World, m: ManifestFile) -> ManifestFile:
        value = json_load(m.data, what="manifest")
        body = change(w, json_load(b64decode(value["body"]), what="manifest body"))
        return replace(m, data=json_bytes({**value, "body": b64encode(json_bytes(body))}))

    return mutate


def desk_entry(desk) -> dict:
    return {"id": desk.id, "name": desk.name, "box_pk": b64encode(desk.box_public), "sign_pk": b64encode(desk.sign_public)}


def chunks(make: Callable[[World, tuple[bytes, ...]], tuple[bytes, ...]]):
    return lambda w, s: replace(s, chunks=tuple(make(w, s.chunks)))


# -- the table ----------------------------------------------------------------------------------


def _envelope_rows(kind: str) -> list[Tamper]:
    """The byte-level changes, alike for a report, a follow-up and a withdrawal."""
    valid = VALID[kind]
    other = "followup" if kind == "report" else "report"

    def row(name: str, mutate, *, server: str, workstation: str, python: str, browser: str) -> Tamper:
        return Tamper(f"{kind}: {name}", kind, valid, mutate, Expect(server, workstation, python, browser))

    framing = lambda code: dict(server=code, workstation=code, python=code, browser=code)  # noqa: E731
    sealed = lambda code, server=ACCEPTED: dict(server=server, workstation=code, python=code, browser=ACCEPTED)  # noqa: E731
    return [
        row("magic changed", envelope(flip(0)), **framing("bad_envelope")),
        row("version downgraded to 0", envelope(set_byte(4, 0)), **framing("unsupported_version")),
        row("unknown version 2", envelope(set_byte(4, 2)), **framing("unsupported_version")),
        row(f"kind byte changed to {other}", envelope(set_byte(5, 2 if kind == "report" else 1)),
            server="wrong_kind", workstation="decryption_failed", python="wrong_kind", browser="wrong_kind"),
        row("kind byte unknown", envelope(set_byte(5, 7)), **framing("bad_envelope")),
        row("recipient count changed", envelope(set_byte(6, 1)), **framing("bad_envelope")),
        row("no recipients", envelope(set_byte(6, 0)), **framing("bad_recipients")),
        row("byte flipped in this desk's key id", envelope(flip(7)),
            server="unknown_recipient", workstation="not_a_recipient", python="not_a_recipient", browser=ACCEPTED),
        row("byte flipped in another desk's key id", envelope(flip(7 + ENTRY)),
            **sealed("decryption_failed", server="unknown_recipient")),
        row("byte flipped in this desk's sealed key", envelope(flip(7 + 8 + 40)), **sealed("decryption_failed")),
        row("byte flipped in another desk's sealed key", envelope(flip(7 + ENTRY + 8 + 40)), **sealed("decryption_failed")),
        row("recipient entries swapped", envelope(lambda e: e[:7] + e[7 + ENTRY:NONCE_AT] + e[7:7 + ENTRY] + e[NONCE_AT:]),
            **sealed("decryption_failed")),
        row("another desk dropped", envelope(drop_recipient(1)), **sealed("decryption_failed")),
        row("this desk dropped", envelope(drop_recipient(0)),
            server=ACCEPTED, workstation="not_a_recipient", python="not_a_recipient", browser=ACCEPTED),
        row("a recipient duplicated", envelope(duplicate_recipient(0)), **framing("bad_recipients")),
        row("byte flipped in the nonce", envelope(flip(NONCE_AT + 5)), **sealed("decryption_failed")),
        row("byte flipped in the ciphertext", envelope(flip(CIPHERTEXT_AT + 100)), **sealed("decryption_failed")),
        row("byte flipped in the tag", envelope(flip(-1)), **sealed("decryption_failed")),
        row("truncated by one byte", envelope(cut(1)), **framing("bad_envelope")),
        row("truncated inside its header", envelope(keep(6)), **framing("bad_envelope")),
        row("truncated to its header", envelope(keep(CIPHERTEXT_AT)), **framing("bad_envelope")),
        row("extended by one byte", envelope(append(b"\0")), **framing("bad_envelope")),
        row("extended to the next size bucket", envelope(append(bytes(3 * 1024))), **sealed("decryption_failed")),
        row("sealed only to a key not in the manifest",
            swapped_in(lambda w: _sealed_to_outsider(w, kind)),
            server="unknown_recipient", workstation="not_a_recipient", python="not_a_recipient", browser=ACCEPTED),
    ]


def _sealed_to_outsider(w: World, kind: str) -> bytes:
    from crypto.envelope import seal

    from .world import followup_body, report_body, withdrawal_body

    if kind == "report":
        return seal("report", report_body(w.a), w.a.keys.sign_secret, (w.outsider.public,))
    body = withdrawal_body(w.a, "a2" * 16) if kind == "withdrawal" else followup_body(w.a, "a2" * 16)
    return seal("followup", body, w.a.keys.sign_secret, (w.outsider.public,))


def _reply_rows() -> list[Tamper]:
    valid = VALID["reply"]

    def row(name: str, mutate, *, server: str, code: str) -> Tamper:
        return Tamper(f"reply: {name}", "reply", valid, mutate, Expect(server=server, python=code, browser=code))

    return [
        row("magic changed", reply_blob(0, flip(1)), server="bad_reply", code="bad_reply"),
        row("version downgraded to 0", reply_blob(0, set_byte(4, 0)), server="unsupported_version", code="unsupported_version"),
        row("unknown version 2", reply_blob(0, set_byte(4, 2)), server="unsupported_version", code="unsupported_version"),
        row("byte flipped in the desk key id", reply_blob(0, flip(5)), server="bad_reply", code="unknown_desk"),
        row("byte flipped in the ephemeral key", reply_blob(0, flip(13)), server=ACCEPTED, code="decryption_failed"),
        row("byte flipped in the sealed body", reply_blob(0, flip(200)), server=ACCEPTED, code="decryption_failed"),
        row("byte flipped in the MAC", reply_blob(0, flip(13 + 32)), server=ACCEPTED, code="decryption_failed"),
        row("truncated by one byte", reply_blob(0, cut(1)), server="bad_reply", code="bad_reply"),
        row("truncated to its framing", reply_blob(0, keep(13)), server="bad_reply", code="bad_reply"),
        row("extended by one byte", reply_blob(0, append(b"\0")), server="bad_reply", code="bad_reply"),
        row("extended to the next size bucket", reply_blob(0, append(bytes(3 * 1024))), server=ACCEPTED,
            code="decryption_failed"),
        row("names another desk's key id than its signer", served(lambda w: [(1, w.r1_key_id_of_desk2)]),
            server="bad_reply", code="bad_signature"),
        row("signed and sealed by a desk key not in the manifest", served(lambda w: [(1, w.r1_by_outsider)]),
            server="bad_reply", code="unknown_desk"),
        row("names desk-1's key id, signed by a key not in the manifest", served(lambda w: [(1, w.r1_signed_by_outsider)]),
            server=ACCEPTED, code="bad_signature"),
        row("sealed to another case's reply key", served(lambda w: [(1, w.r1_sealed_to_b)]),
            server=ACCEPTED, code="decryption_failed"),
        row("a reply for another case", served(lambda w: [(1, w.r1_naming_b)]), server=ACCEPTED, code="wrong_case"),
        row("replayed: stored again under a later seq", served(lambda w: [(1, w.r1), (2, w.r2), (3, w.r1)]),
            server=ACCEPTED, code="reply_replayed"),
        row("reordered: two replies swapped", served(lambda w: [(1, w.r2), (2, w.r1)]),
            server=ACCEPTED, code="reply_replayed"),
        row("served under a seq it was not signed for", served(lambda w: [(2, w.r1)]),
            server=ACCEPTED, code="reply_replayed"),
        row("served twice under its own seq", served(lambda w: [(1, w.r1), (1, w.r1), (2, w.r2)]),
            server=ACCEPTED, code="reply_replayed"),
    ]


def _inbound_rows() -> list[Tamper]:
    valid = VALID["inbound"]

    def row(name: str, mutate, code: str) -> Tamper:
        return Tamper(f"inbound bundle: {name}", "inbound", valid, mutate, Expect(workstation=code, python=code))

    return [
        row("magic changed", bundle(flip(0)), "bad_bundle"),
        row("version downgraded to 0", bundle(set_byte(8, 0)), "unsupported_version"),
        row("unknown version 2", bundle(set_byte(8, 2)), "unsupported_version"),
        row("direction changed to outbound", bundle(set_byte(9, ord(OUTBOUND))), "wrong_direction"),
        row("header length changed", bundle(flip(13)), "bad_bundle"),
        row("header no longer JSON", bundle(flip(14, 0x40)), "bad_bundle"),
        row("byte flipped in the header, still JSON", bundle(at(b'"day":"', 7, flip)), "bundle_corrupted"),
        row("byte flipped in a blob", bundle(at(b"QLEN", 300, flip)), "bundle_corrupted"),
        row("byte flipped in the digest", bundle(flip(-5)), "bundle_corrupted"),
        row("digest of another bundle", rebuilt(lambda w: w.inbound()[:-32] + w.inbound(bundle_id="2b" * 16)[-32:]),
            "bundle_corrupted"),
        row("header version downgraded to 0", rebuilt(lambda w: w.inbound(header_extra={"v": 0})), "bad_bundle"),
        row("truncated by one byte", bundle(cut(1)), "truncated"),
        row("truncated inside a blob", bundle(at(b"QLEN", 500, keep)), "truncated"),
        row("truncated inside its header", bundle(keep(20)), "truncated"),
        row("extended by one byte", bundle(append(b"\0")), "bad_bundle"),
        row("an outbound bundle instead", rebuilt(lambda w: w.outbound()), "wrong_direction"),
    ]


def _outbound_rows() -> list[Tamper]:
    valid = VALID["outbound"]

    def row(name: str, mutate, server: str, python: str | None = None) -> Tamper:
        return Tamper(f"outbound bundle: {name}", "outbound", valid, mutate,
                      Expect(server=server, python=server if python is None else python))

    def digest_wrong_but_signed(w: World) -> bytes:
        from crypto import signing

        data = w.outbound()
        wrong = bytes(32)
        return data[:-96] + wrong + signing.sign("bundle", wrong, w.desk1.sign_secret)

    return [
        row("magic changed", bundle(flip(0)), "bad_bundle"),
        row("version downgraded to 0", bundle(set_byte(8, 0)), "unsupported_version"),
        row("unknown version 2", bundle(set_byte(8, 2)), "unsupported_version"),
        row("direction changed to inbound", bundle(set_byte(9, ord(INBOUND))), "wrong_direction"),
        row("an inbound bundle instead", rebuilt(lambda w: w.inbound()), "wrong_direction"),
        row("byte flipped in the header, still JSON", bundle(at(b'"day":"', 7, flip)), "bundle_corrupted"),
        row("byte flipped in a blob", bundle(at(b"QLRP", 200, flip)), "bundle_corrupted"),
        row("byte flipped in the digest", bundle(flip(-70)), "bundle_corrupted"),
        row("digest wrong, and signed", rebuilt(digest_wrong_but_signed), "bundle_corrupted"),
        row("byte flipped in the signature", bundle(flip(-1)), "bad_signature"),
        row("truncated by one byte", bundle(cut(1)), "truncated"),
        row("truncated by its signature", bundle(cut(64)), "truncated"),
        row("extended by one byte", bundle(append(b"\0")), "bad_bundle"),
        row("header version downgraded to 0", rebuilt(lambda w: w.outbound(header_extra={"v": 0})), "bad_bundle"),
        row("signed by a desk key not in the manifest", rebuilt(lambda w: w.outbound(signer=w.outsider.sign_secret)),
            "bad_signature"),
        row("signed by the root key", rebuilt(lambda w: w.outbound(signer=w.root_sk)), "bad_signature"),
        row("header names another desk than its signer", rebuilt(lambda w: w.outbound(desk="desk-2")), "bad_signature"),
        row("header names a desk not in the manifest", rebuilt(lambda w: w.outbound(desk="desk-9")), "unknown_desk"),
        # A genuine bundle of desk-2 pushed with desk-1's token: only the server knows the token.
        row("another desk's bundle, pushed with this desk's token",
            rebuilt(lambda w: w.outbound(signer=w.desk2.sign_secret, desk="desk-2", replies=[]), pushed_by="desk-1"),
            "wrong_desk", python=ACCEPTED),
        row("replayed: the same bundle pushed again", pushed_twice, "bundle_replayed", python=ACCEPTED),
        row("replayed bundle id with other contents",
            lambda w, b: replace(b, data=w.outbound(replies=[(w.a.case_id, 2, w.r2)]), before=(b.data,)),
            "bundle_replayed", python=ACCEPTED),
    ]


def _manifest_rows() -> list[Tamper]:
    valid = VALID["manifest"]

    def row(name: str, mutate, code: str) -> Tamper:
        return Tamper(f"manifest: {name}", "manifest", valid, mutate, Expect(server=code, python=code, browser=code))

    def resigned(w: World, root_sk: bytes, desks) -> bytes:
        return sign_manifest(Manifest(w.manifest.org, w.manifest.issued, tuple(desks)), root_sk)

    return [
        row("signed by a wrong root key", manifest_made(lambda w: resigned(w, w.other_root_sk, w.manifest.desks)),
            "bad_signature"),
        row("a desk added, signed by a wrong root key",
            manifest_made(lambda w: resigned(w, w.other_root_sk, (*w.manifest.desks, w.desk3.public))), "bad_signature"),
        row("a desk added to the body", body_changed(lambda w, b: {**b, "desks": [*b["desks"], desk_entry(w.desk3)]}),
            "bad_signature"),
        row("a desk removed from the body", body_changed(lambda w, b: {**b, "desks": b["desks"][:1]}), "bad_signature"),
        row("a desk's box key replaced in the body",
            body_changed(lambda w, b: {**b, "desks": [{**b["desks"][0], "box_pk": b64encode(w.desk3.box_public)},
                                                       b["desks"][1]]}),
            "bad_signature"),
        row("organisation renamed in the body", body_changed(lambda w, b: {**b, "org": "Someone else"}), "bad_signature"),
        row("body version downgraded to 0", body_changed(lambda w, b: {**b, "v": 0}), "bad_signature"),
        row("version downgraded to 0", manifest_file(lambda d: outer(d, v=0)), "unsupported_version"),
        row("unknown version 2", manifest_file(lambda d: outer(d, v=2)), "unsupported_version"),
        row("format changed", manifest_file(lambda d: outer(d, format="quietline.other")), "bad_manifest"),
        row("signature flipped", manifest_file(lambda d: outer(d, signature=b64encode(flip(3)(b64decode(json_load(d, what="m")["signature"]))))),
            "bad_signature"),
        row("signature cut short", manifest_file(lambda d: outer(d, signature=b64encode(b64decode(json_load(d, what="m")["signature"])[:63]))),
            "bad_signature"),
        row("signature missing", manifest_file(lambda d: json_bytes({k: v for k, v in json_load(d, what="m").items() if k != "signature"})),
            "bad_base64"),
        row("truncated", manifest_file(cut(2)), "bad_json"),
    ]


def _attachment_rows() -> list[Tamper]:
    valid = VALID["attachment"]

    def row(name: str, mutate, *, server: str, workstation: str, code: str) -> Tamper:
        return Tamper(f"attachment: {name}", "attachment", valid, mutate,
                      Expect(server=server, workstation=workstation, python=code, browser=code))

    def flipped(c: tuple, index: int, offset: int) -> tuple:
        return (*c[:index], flip(offset)(c[index]), *c[index + 1:])

    return [
        row("byte flipped in the first chunk", chunks(lambda w, c: flipped(c, 0, 10)),
            server=ACCEPTED, workstation="decryption_failed", code="decryption_failed"),
        row("byte flipped in a middle chunk", chunks(lambda w, c: flipped(c, 1, 100_000)),
            server=ACCEPTED, workstation="decryption_failed", code="decryption_failed"),
        row("byte flipped in the final chunk's tag", chunks(lambda w, c: flipped(c, 2, -1)),
            server=ACCEPTED, workstation="decryption_failed", code="decryption_failed"),
        row("a middle chunk missing", chunks(lambda w, c: (c[0], c[2])),
            server="upload_incomplete", workstation="truncated", code="decryption_failed"),
        row("chunks reordered", chunks(lambda w, c: (c[0], c[2], c[1])),
            server=ACCEPTED, workstation="decryption_failed", code="decryption_failed"),
        row("the final chunk dropped (a truncated stream)", chunks(lambda w, c: c[:2]),
            server="upload_incomplete", workstation="truncated", code="truncated"),
        row("a chunk repeated in place of the next", chunks(lambda w, c: (c[0], c[0], c[2])),
            server=ACCEPTED, workstation="decryption_failed", code="decryption_failed"),
        row("a chunk from another attachment", chunks(lambda w, c: (c[0], w.other_att_chunks[1], c[2])),
            server=ACCEPTED, workstation="decryption_failed", code="decryption_failed"),
        row("another attachment's chunks", chunks(lambda w, c: w.other_att_chunks),
            server=ACCEPTED, workstation="decryption_failed", code="decryption_failed"),
        row("the same file under another stream header", chunks(lambda w, c: w.rekeyed_att_chunks),
            server=ACCEPTED, workstation="decryption_failed", code="decryption_failed"),
        row("a chunk cut short", chunks(lambda w, c: (c[0], c[1][:-1], c[2])),
            server="bad_chunk_size", workstation="truncated", code="truncated"),
        row("a chunk after the final one", chunks(lambda w, c: (*c, c[2])),
            server="bad_chunk_index", workstation="truncated", code="too_many_chunks"),
        # What only the inbound bundle says about an attachment, checked against the signed
        # descriptor.
        Tamper("attachment: filed under another case", "attachment", valid, lambda w, s: replace(s, case="b"),
               Expect(workstation="wrong_case")),
        Tamper("attachment: another chunk count announced", "attachment", valid, lambda w, s: replace(s, announced=6),
               Expect(workstation="bad_attachment")),
    ]


def _filing_rows() -> list[Tamper]:
    """Valid envelopes filed where they do not belong: only what is signed inside tells."""
    return [
        Tamper("report: swapped envelope, case a's report filed as case b's", "report", VALID["report"],
               refiled(case="b"), Expect(server=ACCEPTED, workstation="wrong_case")),
        Tamper("report: a follow-up filed as a report", "report", VALID["report"], swapped_in(lambda w: w.followup_a),
               Expect(server="wrong_kind", workstation="wrong_kind", python="wrong_kind", browser="wrong_kind")),
        Tamper("followup: swapped envelope, case a's follow-up filed as case b's", "followup", VALID["followup"],
               refiled(case="b"), Expect(server=ACCEPTED, workstation="bad_signature")),
        Tamper("followup: a report filed as a follow-up", "followup", VALID["followup"], swapped_in(lambda w: w.report_a),
               Expect(server="wrong_kind", workstation="wrong_kind", python="wrong_kind", browser="wrong_kind")),
        Tamper("followup: replayed, filed again as the next follow-up", "followup", VALID["followup"], replayed_followup,
               Expect(server="followup_exists", workstation="followup_replayed")),
        # The server deletes the case whose lookup withdraws it; only the desk can tell whose
        # withdrawal the sealed envelope is.
        Tamper("withdrawal: naming case a, signed with case b's key", "withdrawal", VALID["withdrawal"],
               swapped_in(lambda w: w.withdrawal_a_signed_by_b), Expect(server=ACCEPTED, workstation="bad_signature")),
        Tamper("withdrawal: a follow-up that does not withdraw", "withdrawal", VALID["withdrawal"],
               swapped_in(lambda w: w.followup_a), Expect(server=ACCEPTED, workstation="not_a_withdrawal")),
        Tamper("withdrawal: a report instead", "withdrawal", VALID["withdrawal"], swapped_in(lambda w: w.report_a),
               Expect(server="wrong_kind", workstation="wrong_kind", python="wrong_kind", browser="wrong_kind")),
    ]


CASES: list[Tamper] = [
    *_envelope_rows("report"),
    *_envelope_rows("followup"),
    *_envelope_rows("withdrawal"),
    *_filing_rows(),
    *_reply_rows(),
    *_inbound_rows(),
    *_outbound_rows(),
    *_manifest_rows(),
    *_attachment_rows(),
]


def rows_for(layer: str) -> list[Tamper]:
    return [t for t in CASES if layer in t.layers]


def ids(rows: list[Tamper]) -> list[str]:
    return [t.name for t in rows]
