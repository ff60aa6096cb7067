"""Importing inbound bundles: what verifies is stored and acknowledged, what does not is
refused with its code and never acknowledged, the whole import commits or not at all,
and importing the same bundle again changes nothing."""

import json
import os

import pytest

from crypto.attachment import CHUNK_CIPHERTEXT, CHUNK_PLAINTEXT
from crypto.errors import ProtocolError
from workstation import importer as importer_module
from workstation.cases import case_detail, get_case, list_cases
from workstation.exporter import ACK
from workstation.importer import import_bundle
from ws_helpers import InboundBundle, Submitter


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True)


def acks(vault) -> list[dict]:
    return sorted((data["ack"] for _, data in vault.records(ACK)), key=canonical)


def codes(result) -> list[str]:
    return sorted(r.code for r in result.refused)


def snapshot(vault) -> dict:
    """Every record, decrypted, by kind (excluding the import log)."""
    kinds = ("case", "followup", "attachment", "reply", "ack", "outbound")
    return {kind: sorted(canonical(data) for _, data in vault.records(kind)) for kind in kinds}


@pytest.fixture
def two_cases(desks):
    alice, bob = Submitter.new(), Submitter.new()
    photo = os.urandom(CHUNK_PLAINTEXT * 2 + 123)  # three chunks, padded to four
    alice_report = alice.report(desks, text="Alice's account", country="AX", attachments=[("photo.jpg", photo)])
    bob_report = bob.report(desks, text="Bob's account", country="BO", attachments=[("note.txt", b"a note")])
    alice_followup = alice.followup(desks, text="more from Alice", attachments=[("audio.ogg", b"\x00" * 5000)])
    return alice, bob, alice_report, bob_report, alice_followup


def test_import_stores_verified_items_and_queues_their_acks(vault, tmp_path, two_cases):
    alice, bob, alice_report, bob_report, alice_followup = two_cases
    bundle = (
        InboundBundle()
        .add_report(alice.case_id, alice_report)
        .add_report(bob.case_id, bob_report)
        .add_followup(alice.case_id, 1, alice_followup)
    )
    result = import_bundle(vault, bundle.write(tmp_path / "in.qlb"))
    assert result.refused == []
    assert result.new == {"report": 2, "followup": 1, "attachment": 3}

    case = get_case(vault, alice.case_id)
    assert case["report"]["text"] == "Alice's account"
    assert case["sign_pk"] == alice_report.body["sign_pk"]
    detail = case_detail(vault, case)
    assert [f["text"] for f in detail.followups] == ["more from Alice"]
    stored = {a["name"]: a for a in detail.attachments}
    assert set(stored) == {"photo.jpg", "audio.ogg"}
    assert all(a["state"] == "stored" and "key" not in a for a in stored.values())
    photo = b"".join(vault.read_attachment(bytes.fromhex(stored["photo.jpg"]["file"])))
    assert photo == alice_report.uploads[0].data

    expected_acks = [
        {"type": "report", "case_id": alice.case_id},
        {"type": "report", "case_id": bob.case_id},
        {"type": "followup", "case_id": alice.case_id, "seq": 1},
        *({"type": "attachment", "upload_id": u.upload_id} for u in alice_report.uploads + bob_report.uploads + alice_followup.uploads),
    ]
    assert acks(vault) == sorted(expected_acks, key=canonical)
    summaries = {s.case_id: s for s in list_cases(vault)}
    assert summaries[alice.case_id].followups == 1 and summaries[alice.case_id].attachments == 2
    assert summaries[bob.case_id].country == "BO"


def test_attachments_may_arrive_in_a_later_bundle(vault, tmp_path, two_cases):
    alice, _, alice_report, _, _ = two_cases
    first = InboundBundle().add_report(alice.case_id, alice_report, with_attachments=False)
    import_bundle(vault, first.write(tmp_path / "1.qlb"))
    detail = case_detail(vault, get_case(vault, alice.case_id))
    assert [a["state"] for a in detail.attachments] == ["expected"]
    second = InboundBundle().add_attachment(alice.case_id, alice_report.uploads[0])
    result = import_bundle(vault, second.write(tmp_path / "2.qlb"))
    assert result.new["attachment"] == 1 and result.refused == []


def test_tampered_report_is_refused_and_not_acknowledged(vault, tmp_path, two_cases):
    alice, bob, alice_report, bob_report, _ = two_cases
    envelope = bytearray(alice_report.envelope)
    envelope[-40] ^= 0x01  # inside the AEAD ciphertext
    alice_report.envelope = bytes(envelope)
    bundle = InboundBundle().add_report(alice.case_id, alice_report).add_report(bob.case_id, bob_report)
    result = import_bundle(vault, bundle.write(tmp_path / "in.qlb"))
    assert codes(result) == ["decryption_failed", "unknown_upload"]  # the report, then its attachment
    assert get_case(vault, alice.case_id) is None
    assert get_case(vault, bob.case_id) is not None
    acked = acks(vault)
    assert {"type": "report", "case_id": bob.case_id} in acked
    assert not any(a.get("case_id") == alice.case_id for a in acked)
    assert {"type": "attachment", "upload_id": alice_report.uploads[0].upload_id} not in acked


def test_report_signed_by_another_key_than_its_sign_pk_is_refused(vault, tmp_path, desks):
    alice, mallory = Submitter.new(), Submitter.new()
    forged = alice.report(desks, sign_secret=mallory.keys.sign_secret)
    result = import_bundle(vault, InboundBundle().add_report(alice.case_id, forged).write(tmp_path / "in.qlb"))
    assert codes(result) == ["bad_signature"]
    assert get_case(vault, alice.case_id) is None and acks(vault) == []


def test_report_filed_under_another_case_is_refused(vault, tmp_path, desks):
    alice, bob = Submitter.new(), Submitter.new()
    report = alice.report(desks)
    result = import_bundle(vault, InboundBundle().add_report(bob.case_id, report).write(tmp_path / "in.qlb"))
    assert codes(result) == ["wrong_case"]
    assert get_case(vault, bob.case_id) is None and get_case(vault, alice.case_id) is None and acks(vault) == []


def test_report_for_another_desk_is_refused(vault, tmp_path):
    from crypto.desk import DeskKeys

    other = DeskKeys.generate("desk-2", "Other")
    alice = Submitter.new()
    report = alice.report((other.public,))
    result = import_bundle(vault, InboundBundle().add_report(alice.case_id, report).write(tmp_path / "in.qlb"))
    assert codes(result) == ["not_a_recipient"]


def test_a_second_different_report_for_a_case_is_refused(vault, tmp_path, desks):
    alice, mallory = Submitter.new(), Submitter.new()
    import_bundle(vault, InboundBundle().add_report(alice.case_id, alice.report(desks)).write(tmp_path / "1.qlb"))
    # Anyone who knows a case id can sign a report claiming it with their own key.
    squatter = mallory.report(desks, case_id=alice.case_id, text="replacement")
    result = import_bundle(vault, InboundBundle().add_report(alice.case_id, squatter).write(tmp_path / "2.qlb"))
    assert codes(result) == ["case_conflict"]
    assert get_case(vault, alice.case_id)["sign_pk"] != squatter.body["sign_pk"]


def test_followup_signed_by_a_different_case_key_is_refused(vault, tmp_path, desks):
    alice, mallory = Submitter.new(), Submitter.new()
    import_bundle(vault, InboundBundle().add_report(alice.case_id, alice.report(desks)).write(tmp_path / "1.qlb"))
    forged = mallory.followup(desks, case_id=alice.case_id, text="please send everything to this address",
                              attachments=[("x.pdf", b"%PDF")])
    genuine = alice.followup(desks, text="genuine")
    bundle = InboundBundle().add_followup(alice.case_id, 1, forged).add_followup(alice.case_id, 2, genuine)
    result = import_bundle(vault, bundle.write(tmp_path / "2.qlb"))
    assert codes(result) == ["bad_signature", "unknown_upload"]
    detail = case_detail(vault, get_case(vault, alice.case_id))
    assert [(f["seq"], f["text"]) for f in detail.followups] == [(2, "genuine")]
    followup_acks = [a for a in acks(vault) if a["type"] != "report"]
    assert followup_acks == [{"type": "followup", "case_id": alice.case_id, "seq": 2}]


def test_followup_moved_to_another_case_is_refused(vault, tmp_path, desks):
    alice, bob = Submitter.new(), Submitter.new()
    bundle = InboundBundle().add_report(alice.case_id, alice.report(desks)).add_report(bob.case_id, bob.report(desks))
    import_bundle(vault, bundle.write(tmp_path / "1.qlb"))
    alices = alice.followup(desks)
    result = import_bundle(vault, InboundBundle().add_followup(bob.case_id, 1, alices).write(tmp_path / "2.qlb"))
    assert codes(result) == ["bad_signature"]  # Bob's key does not verify Alice's follow-up
    assert case_detail(vault, get_case(vault, bob.case_id)).followups == []


def test_followup_without_its_case_and_replayed_followup_are_refused(vault, tmp_path, desks):
    alice, stranger = Submitter.new(), Submitter.new()
    lonely = stranger.followup(desks)
    result = import_bundle(vault, InboundBundle().add_followup(stranger.case_id, 1, lonely).write(tmp_path / "0.qlb"))
    assert codes(result) == ["unknown_case"]

    followup = alice.followup(desks)
    bundle = InboundBundle().add_report(alice.case_id, alice.report(desks)).add_followup(alice.case_id, 1, followup)
    import_bundle(vault, bundle.write(tmp_path / "1.qlb"))
    # The server files the same signed follow-up again under a new number.
    replay = InboundBundle().add_followup(alice.case_id, 2, followup)
    assert codes(import_bundle(vault, replay.write(tmp_path / "2.qlb"))) == ["followup_replayed"]
    # ... or another genuine follow-up under a number already taken.
    other = InboundBundle().add_followup(alice.case_id, 1, alice.followup(desks, text="different"))
    assert codes(import_bundle(vault, other.write(tmp_path / "3.qlb"))) == ["followup_conflict"]
    assert len(case_detail(vault, get_case(vault, alice.case_id)).followups) == 1


def test_attachment_filed_under_another_case_is_refused(vault, tmp_path, two_cases):
    alice, bob, alice_report, bob_report, _ = two_cases
    bundle = (
        InboundBundle()
        .add_report(alice.case_id, alice_report, with_attachments=False)
        .add_report(bob.case_id, bob_report, with_attachments=False)
        # Alice's evidence offered as Bob's, and Bob's as Alice's.
        .add_attachment(bob.case_id, alice_report.uploads[0])
        .add_attachment(alice.case_id, bob_report.uploads[0])
    )
    result = import_bundle(vault, bundle.write(tmp_path / "in.qlb"))
    assert codes(result) == ["wrong_case", "wrong_case"]
    for case_id in (alice.case_id, bob.case_id):
        assert [a["state"] for a in case_detail(vault, get_case(vault, case_id)).attachments] == ["expected"]
    assert not any(a["type"] == "attachment" for a in acks(vault))
    assert list((vault.path / "attachments").iterdir()) == []


def test_attachment_contents_swapped_between_cases_are_refused(vault, tmp_path, desks):
    alice, bob = Submitter.new(), Submitter.new()
    alice_report = alice.report(desks, attachments=[("a.bin", os.urandom(1000))])
    bob_report = bob.report(desks, attachments=[("b.bin", os.urandom(1000))])
    a_upload, b_upload = alice_report.uploads[0], bob_report.uploads[0]
    bundle = (
        InboundBundle()
        .add_report(alice.case_id, alice_report, with_attachments=False)
        .add_report(bob.case_id, bob_report, with_attachments=False)
        # Labels right, ciphertexts exchanged: the same chunk count, so only the key tells.
        .add_attachment(alice.case_id, a_upload, chunks=b_upload.chunks)
        .add_attachment(bob.case_id, b_upload, chunks=a_upload.chunks)
    )
    result = import_bundle(vault, bundle.write(tmp_path / "in.qlb"))
    assert codes(result) == ["decryption_failed", "decryption_failed"]
    assert not any(a["type"] == "attachment" for a in acks(vault))
    assert list((vault.path / "attachments").iterdir()) == []


def test_truncated_reordered_or_unannounced_attachments_are_refused(vault, tmp_path, desks):
    alice = Submitter.new()
    data = os.urandom(CHUNK_PLAINTEXT * 3)
    report = alice.report(desks, attachments=[("big.bin", data), ("small.bin", b"tiny")])
    big, small = report.uploads
    assert len(big.chunks) == 3
    stranger = Submitter.new().upload("unknown.bin", b"?")
    bundle = (
        InboundBundle()
        .add_report(alice.case_id, report, with_attachments=False)
        .add_attachment(alice.case_id, big, chunks=big.chunks[:2] + [big.chunks[2][:-1] + b"\x00"])
        .add_attachment(alice.case_id, small, chunks=[small.chunks[0][: CHUNK_CIPHERTEXT - 1]])
        .add_attachment(alice.case_id, stranger)
    )
    result = import_bundle(vault, bundle.write(tmp_path / "1.qlb"))
    assert codes(result) == ["decryption_failed", "truncated", "unknown_upload"]
    reordered = InboundBundle().add_attachment(alice.case_id, big, chunks=[big.chunks[1], big.chunks[0], big.chunks[2]])
    assert codes(import_bundle(vault, reordered.write(tmp_path / "2.qlb"))) == ["decryption_failed"]
    good = InboundBundle().add_attachment(alice.case_id, big).add_attachment(alice.case_id, small)
    assert import_bundle(vault, good.write(tmp_path / "3.qlb")).new["attachment"] == 2


def test_reimporting_the_same_bundle_changes_nothing(vault, tmp_path, two_cases):
    alice, bob, alice_report, bob_report, alice_followup = two_cases
    path = (
        InboundBundle()
        .add_report(alice.case_id, alice_report)
        .add_report(bob.case_id, bob_report)
        .add_followup(alice.case_id, 1, alice_followup)
        .write(tmp_path / "in.qlb")
    )
    first = import_bundle(vault, path)
    before = snapshot(vault)
    files_before = sorted(p.name for p in (vault.path / "attachments").iterdir())
    second = import_bundle(vault, path)
    assert second.seen_before and not first.seen_before
    assert second.new == {"report": 0, "followup": 0, "attachment": 0}
    assert second.already == first.new
    assert snapshot(vault) == before
    assert sorted(p.name for p in (vault.path / "attachments").iterdir()) == files_before


def test_a_damaged_bundle_imports_nothing(vault, tmp_path, desks):
    alice = Submitter.new()
    path = InboundBundle().add_report(alice.case_id, alice.report(desks)).write(tmp_path / "in.qlb")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    path.write_bytes(bytes(raw))
    with pytest.raises(ProtocolError) as info:
        import_bundle(vault, path)
    assert info.value.code == "bundle_corrupted"
    assert all(v == [] for v in snapshot(vault).values())


def test_a_crash_during_import_leaves_the_vault_as_it_was(vault, tmp_path, two_cases, monkeypatch):
    alice, bob, alice_report, bob_report, alice_followup = two_cases
    path = (
        InboundBundle()
        .add_report(alice.case_id, alice_report)
        .add_report(bob.case_id, bob_report)
        .add_followup(alice.case_id, 1, alice_followup)
        .write(tmp_path / "in.qlb")
    )
    real = importer_module.queue_ack
    calls = []

    def crash_on_the_last_ack(vault_, ack):
        calls.append(ack)
        if len(calls) == 6:  # the last attachment: everything else is already written
            raise OSError(28, "No space left on device")
        real(vault_, ack)

    monkeypatch.setattr(importer_module, "queue_ack", crash_on_the_last_ack)
    with pytest.raises(OSError):
        import_bundle(vault, path)
    assert all(v == [] for v in snapshot(vault).values())
    assert list((vault.path / "attachments").iterdir()) == []

    monkeypatch.setattr(importer_module, "queue_ack", real)
    result = import_bundle(vault, path)
    assert result.new == {"report": 2, "followup": 1, "attachment": 3} and not result.seen_before


def test_malformed_items_are_refused_one_by_one(vault, tmp_path, desks):
    alice = Submitter.new()
    bundle = InboundBundle().add_report(alice.case_id, alice.report(desks))
    bundle.items += [
        {"type": "report", "case_id": "not-hex", "blob": 0},
        {"type": "report", "case_id": alice.case_id + "\n", "blob": 0},
        {"type": "report", "case_id": alice.case_id, "blob": 99},
        {"type": "followup", "case_id": alice.case_id, "seq": True, "blob": 0},
        {"type": "mystery"},
        "not an object",
    ]
    result = import_bundle(vault, bundle.write(tmp_path / "in.qlb"))
    assert result.new["report"] == 1
    assert codes(result) == ["bad_item"] * 6


def test_a_report_claiming_another_cases_upload_is_refused_without_a_trace(vault, tmp_path, desks):
    alice, bob = Submitter.new(), Submitter.new()
    alice_report = alice.report(desks, attachments=[("a.bin", b"alice's")])
    import_bundle(vault, InboundBundle().add_report(alice.case_id, alice_report).write(tmp_path / "1.qlb"))
    bob_own = bob.upload("b.bin", b"bob's")
    stolen = dict(alice_report.uploads[0].descriptor)
    # Bob's report names its own upload first (stored, then undone) and then Alice's.
    body_attachments = [bob_own.descriptor, stolen]
    from crypto.envelope import seal

    report = bob.report(desks)
    report.body["attachments"] = body_attachments
    report.envelope = seal("report", report.body, bob.keys.sign_secret, desks)
    result = import_bundle(vault, InboundBundle().add_report(bob.case_id, report).add_attachment(bob.case_id, bob_own).write(tmp_path / "2.qlb"))
    assert codes(result) == ["unknown_upload", "upload_conflict"]
    assert get_case(vault, bob.case_id) is None
    assert vault.get("attachment", vault.rid("attachment", bob_own.upload_id)) is None
    assert [a["case_id"] for _, a in vault.records("attachment")] == [alice.case_id]


def test_attachments_stream_through_import_and_extract_without_being_held_whole(vault, tmp_path, desks):
    import tracemalloc

    from workstation.cases import extract_attachments

    alice = Submitter.new()
    data = os.urandom(CHUNK_PLAINTEXT * 40 + 5)  # ~10 MiB, 41 chunks padded to 48
    report = alice.report(desks, attachments=[("video.mp4", data)])
    path = InboundBundle().add_report(alice.case_id, report).write(tmp_path / "in.qlb")
    del report, data
    tracemalloc.start()
    try:
        result = import_bundle(vault, path)
        _, import_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        [(_, written)] = extract_attachments(vault, case_detail(vault, get_case(vault, alice.case_id)), tmp_path / "out")
        _, extract_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.new["attachment"] == 1 and written.stat().st_size == CHUNK_PLAINTEXT * 40 + 5
    # A few chunks' worth at most, never the 10 MiB file.
    assert import_peak < 4 * 1024 * 1024, import_peak
    assert extract_peak < 4 * 1024 * 1024, extract_peak


@pytest.mark.parametrize("version", [True, 2, "1", None])
def test_bodies_of_another_version_are_refused(vault, tmp_path, desks, version):
    from crypto.envelope import seal

    alice = Submitter.new()
    report = alice.report(desks)
    report.body["v"] = version
    report.envelope = seal("report", report.body, alice.keys.sign_secret, desks)
    result = import_bundle(vault, InboundBundle().add_report(alice.case_id, report).write(tmp_path / "in.qlb"))
    assert codes(result) == ["unsupported_version"] and get_case(vault, alice.case_id) is None
