"""crypto/upload.py and the resuming AttachmentSealer: the derivations are exactly the
formulas of docs/PROTOCOL.md ("Resumable attachments"), computed here independently with
Python's own BLAKE2b; the file hash is a true stream; a restarted stream equals the first."""

import hashlib
import os

import pytest

from crypto import attachment, casekey, kdf, upload
from crypto.attachment import CHUNK_PLAINTEXT, AttachmentOpener, AttachmentSealer, open_bytes, seal_bytes
from crypto.errors import ProtocolError


def b2(data: bytes, n: int, key: bytes, salt: bytes = b"", person: bytes = b"") -> bytes:
    return hashlib.blake2b(data, digest_size=n, key=key, salt=salt, person=person).digest()


def spec(case_key: bytes, data: bytes) -> dict:
    """The protocol's formulas, written out with hashlib (not crypto/)."""
    root = b2(case_key, 32, b"quietline/case-root/v1")
    upload_root = b2(b"", 32, root, salt=(4).to_bytes(8, "little") + bytes(8), person=b"QLcase01" + bytes(8))
    file_hash = b2(data, 32, b"quietline/file/v1")
    resume = b2(b"quietline/upload-resume/v1" + file_hash, 32, upload_root)
    return {
        "upload_root": upload_root,
        "file_hash": file_hash,
        "resume": resume,
        "stream_key": b2(b"quietline/upload-key/v1" + file_hash, 32, upload_root),
        "resume_index": b2(resume, 16, b"quietline/upload-resume-index/v1").hex(),
    }


def derived(case_key: bytes, data: bytes) -> dict:
    root = upload.upload_root(case_key)
    digest = upload.file_hash([data])
    handle = upload.resume(root, digest)
    return {"upload_root": root, "file_hash": digest, "resume": handle,
            "stream_key": upload.stream_key(root, digest), "resume_index": upload.resume_index(handle)}


@pytest.mark.parametrize("size", [0, 1, 1000, CHUNK_PLAINTEXT + 1])
def test_derivations_follow_the_protocol(size):
    key = casekey.generate()
    data = os.urandom(size)
    assert derived(key, data) == spec(key, data)


def test_upload_root_is_subkey_4_of_the_case_root_and_differs_from_the_others():
    key = casekey.generate()
    keys = kdf.derive_case_keys(key)
    root = upload.upload_root(key)
    assert root not in (keys.lookup, keys.reply_secret[:32], keys.sign_secret[:32])
    assert len(root) == 32


def test_every_value_depends_on_the_case_and_on_every_byte_of_the_file():
    key, other = casekey.generate(), casekey.generate()
    data = os.urandom(3000)
    base = derived(key, data)
    changed = bytearray(data)
    changed[-1] ^= 1
    seen = [base, derived(other, data), derived(key, bytes(changed)), derived(key, data[:-1]), derived(key, data + b"\0")]
    for name in ("resume", "stream_key", "resume_index"):
        assert len({v[name] for v in seen}) == len(seen), name
    assert base["resume"] != base["stream_key"]
    assert derived(key, data) == base  # deterministic: found again after a reload


def test_file_hash_is_a_stream_over_pieces_of_any_size():
    data = os.urandom(700_000)
    whole = upload.file_hash([data])
    assert upload.file_hash([data[:1], data[1:300_000], b"", data[300_000:]]) == whole
    assert upload.file_hash(data[i:i + 4096] for i in range(0, len(data), 4096)) == whole  # a generator
    hasher = upload.FileHasher()
    for i in range(0, len(data), CHUNK_PLAINTEXT):
        hasher.update(memoryview(data)[i:i + CHUNK_PLAINTEXT])
    assert hasher.digest() == whole
    assert upload.file_hash([]) == upload.file_hash([b""]) == b2(b"", 32, b"quietline/file/v1")


@pytest.mark.parametrize(
    ("fn", "args"),
    [
        (upload.upload_root, (bytes(15),)),
        (upload.upload_root, (bytes(32),)),
        (upload.resume, (bytes(31), bytes(32))),
        (upload.resume, (bytes(32), bytes(33))),
        (upload.stream_key, (bytes(32), b"")),
        (upload.stream_key, (bytes(33), bytes(32))),
        (upload.resume_index, (bytes(16),)),
        (upload.resume_index, ("00" * 32,)),
    ],
)
def test_wrong_lengths_are_refused(fn, args):
    with pytest.raises(ProtocolError) as info:
        fn(*args)
    assert info.value.code == "bad_length"


@pytest.mark.parametrize("size", [0, 1000, CHUNK_PLAINTEXT, 600_000])
def test_a_restarted_stream_gives_the_same_chunks(size):
    data = os.urandom(size)
    key = derived(casekey.generate(), data)["stream_key"]
    params, original = seal_bytes(data, key)
    again_params, again = seal_bytes(data, key, params.header)
    assert again_params == params
    assert again == original
    assert open_bytes(params, b"".join(again)) == data


def test_chunks_sent_before_and_after_a_drop_open_as_one_stream():
    data = os.urandom(3 * CHUNK_PLAINTEXT + 5)  # 4 chunks
    key = derived(casekey.generate(), data)["stream_key"]
    first = AttachmentSealer(len(data), key)
    sent = [first.seal_chunk(data[:CHUNK_PLAINTEXT])]  # then the connection drops
    restarted = AttachmentSealer(len(data), key, first.params.header)
    redone = [restarted.seal_chunk(data[i * CHUNK_PLAINTEXT:(i + 1) * CHUNK_PLAINTEXT]) for i in range(4)]
    opener = AttachmentOpener(first.params)
    plain = b"".join(opener.open_chunk(c) for c in sent + redone[1:])
    opener.finish()
    assert plain == data


def test_another_file_cannot_continue_a_stream():
    data = os.urandom(2 * CHUNK_PLAINTEXT)
    other = bytearray(data)
    other[-1] ^= 1
    case = casekey.generate()
    params, chunks = seal_bytes(data, derived(case, data)["stream_key"])
    _, foreign = seal_bytes(bytes(other), derived(case, bytes(other))["stream_key"], params.header)
    with pytest.raises(ProtocolError) as info:
        open_bytes(params, chunks[0] + foreign[1])
    assert info.value.code == "decryption_failed"


def test_a_fresh_stream_under_the_same_key_has_a_new_header():
    data = os.urandom(10)
    key = os.urandom(32)
    a, _ = seal_bytes(data, key)
    b, _ = seal_bytes(data, key)
    assert a.key == b.key and a.header != b.header


@pytest.mark.parametrize(
    ("key", "header"),
    [(None, bytes(24)), (bytes(31), bytes(24)), (bytes(32), bytes(23)), (bytes(32), bytes(25))],
)
def test_resuming_needs_a_key_and_a_header_of_the_right_length(key, header):
    with pytest.raises(ProtocolError) as info:
        AttachmentSealer(10, key, header)
    assert info.value.code == "bad_length"


def test_a_restarted_sealer_still_checks_lengths():
    sealer = AttachmentSealer(10, os.urandom(32), os.urandom(24))
    with pytest.raises(ProtocolError) as info:
        sealer.seal_chunk(b"x" * 9)
    assert info.value.code == "bad_length"
    assert attachment.chunks_for_size(10) == sealer.params.chunks == 1
