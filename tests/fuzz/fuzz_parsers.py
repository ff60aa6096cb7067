"""Atheris (libFuzzer) target for the parsers that meet untrusted bytes: transfer bundles in
both directions, envelopes, replies and the manifest (crypto/).

The first input byte picks a target; the rest is its input. Besides raw bytes, three targets
put the fuzzer's bytes behind the authentication a random input never passes: a bundle whose
digest (and desk signature) the harness computes, and an envelope and a reply that the harness
encrypts correctly around the fuzzer's plaintext. So the checks behind each checksum, signature
and AEAD are fuzzed too.

A `ProtocolError` is a refusal, as it should be; any other exception is a crash, which
libFuzzer reports, saves (-artifact_prefix) and exits non-zero on.

    python tests/fuzz/fuzz_parsers.py --write-corpus DIR     seed DIR with valid artifacts
    python tests/fuzz/fuzz_parsers.py DIR [libFuzzer flags]  fuzz (e.g. -max_total_time=600)

`make fuzz` runs it for longer; tests/fuzz/test_fuzz_parsers.py runs it briefly in `make test`.
"""

import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import atheris  # noqa: E402

with atheris.instrument_imports(include=["crypto"]):
    from crypto import envelope, reply
    from crypto.bundle import INBOUND, OUTBOUND, read_bundle
    from crypto.encoding import json_bytes
    from crypto.errors import ProtocolError
    from crypto.manifest import verify_manifest
    from crypto.padding import MESSAGE_BUCKETS, pad_message

from robustness.artifacts import (  # noqa: E402
    BUNDLE_ID_IN,
    DAY,
    craft_bundle,
    craft_envelope,
    craft_reply,
    signed_inner,
    world,
    write,
)

W = world()
DESK = W.desks[0]
TARGETS = (
    "inbound bundle",
    "outbound bundle",
    "envelope",
    "inbound bundle, digest made right",
    "outbound bundle, digest and signature made right",
    "envelope, encrypted right around the input",
    "reply",
    "reply, sealed right around the input",
    "manifest",
)


def _split_header(data: bytes) -> tuple[bytes, bytes]:
    """Two bytes of header length, then the header, then blob bytes."""
    length = int.from_bytes(data[:2], "big") if len(data) >= 2 else 0
    return data[2 : 2 + length], data[2 + length :]


def _padded(data: bytes) -> bytes:
    # Bucket-sized input is used as it is (its padding fuzzed too); anything else is padded.
    if len(data) in MESSAGE_BUCKETS or len(data) >= MESSAGE_BUCKETS[-1]:
        return data[: MESSAGE_BUCKETS[-1]]
    return pad_message(data)


def _bundle(data: bytes, direction: str) -> None:
    bundle = read_bundle(io.BytesIO(data), direction, W.manifest if direction == OUTBOUND else None)
    for index in range(len(bundle.blob_sizes)):
        bundle.read_blob(io.BytesIO(data), index)


def _envelope(data: bytes) -> None:
    envelope.parse_header(data)
    opened = envelope.open_envelope(data, DESK.public, DESK.box_secret)
    opened.verify(W.case.sign_public)


def _reply(data: bytes) -> None:
    reply.check_framing(data)
    reply.open_reply(data, W.manifest, W.case.reply_public, W.case.reply_secret, W.case_id)


def run(data: bytes) -> None:
    if not data:
        return
    target, rest = data[0] % len(TARGETS), data[1:]
    if target == 0:
        _bundle(rest, INBOUND)
    elif target == 1:
        _bundle(rest, OUTBOUND)
    elif target == 2:
        _envelope(rest)
    elif target == 3:
        _bundle(craft_bundle(INBOUND, *_split_header(rest)), INBOUND)
    elif target == 4:
        _bundle(craft_bundle(OUTBOUND, *_split_header(rest), DESK.sign_secret), OUTBOUND)
    elif target == 5:
        kind = 1 + (rest[:1] == b"\x02")
        _envelope(craft_envelope(_padded(rest[1:]), W.desks, kind=kind))
    elif target == 6:
        _reply(rest)
    elif target == 7:
        _reply(craft_reply(_padded(rest), DESK, W.case.reply_public))
    else:
        verify_manifest(rest, W.root_pk)


def test_one_input(data: bytes) -> None:
    try:
        run(data)
    except ProtocolError:
        pass  # refused, with a stable code: what every malformed input must get


def seeds() -> dict[str, bytes]:
    """One valid input per target (a small inbound bundle: the fuzzer's inputs stay small)."""
    inbound = write(INBOUND, {"v": 1, "bundle_id": BUNDLE_ID_IN, "day": DAY, "confirmed_outbound": [], "items": [
        {"type": "report", "case_id": W.case_id, "blob": 0, "uploads": []},
        {"type": "followup", "case_id": W.case_id, "seq": 1, "blob": 1, "uploads": []}]}, [W.report, W.followup])
    in_header = json_bytes({"v": 1, "bundle_id": BUNDLE_ID_IN, "day": DAY, "blobs": [3, 2], "items": []})
    out_header = json_bytes({"v": 1, "bundle_id": BUNDLE_ID_IN, "desk": "desk-1", "day": DAY, "blobs": [4],
                             "acks": [], "replies": [{"case_id": W.case_id, "seq": 1, "blob": 0}]})
    body = json_bytes({"v": 1, "kind": "report", "case_id": W.case_id, "day": DAY})
    reply_body = json_bytes({"v": 1, "kind": "reply", "case_id": W.case_id, "seq": 1, "status": "received",
                             "text": "", "day": DAY, "desk": "desk-1"})
    return {
        "inbound": bytes([0]) + inbound,
        "outbound": bytes([1]) + W.outbound,
        "envelope": bytes([2]) + W.report,
        "followup": bytes([2]) + W.followup,
        "inbound-crafted": bytes([3]) + len(in_header).to_bytes(2, "big") + in_header + b"abcde",
        "outbound-crafted": bytes([4]) + len(out_header).to_bytes(2, "big") + out_header + b"blob",
        "envelope-crafted": bytes([5, 1]) + signed_inner("report", body, W.case.sign_secret),
        "reply": bytes([6]) + W.reply,
        "reply-crafted": bytes([7]) + signed_inner("reply", reply_body, DESK.sign_secret),
        "manifest": bytes([8]) + W.manifest_bytes,
    }


def write_corpus(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        test_one_input(data)  # every seed is valid input: it must not crash either
        (folder / name).write_bytes(data)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--write-corpus":
        write_corpus(Path(sys.argv[2]))
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
