"""Replies and outbound bundles: what the server and the submitter's browser will accept,
re-sent until the server confirms it, and not after."""

import pytest

from crypto.bundle import OUTBOUND, read_bundle
from crypto.errors import ProtocolError
from crypto.reply import open_reply
from workstation.errors import WorkstationError
from workstation.exporter import export_bundle
from workstation.importer import import_bundle
from workstation.replies import write_reply
from ws_helpers import InboundBundle, Submitter


@pytest.fixture
def imported(vault, tmp_path, desks):
    """Two cases in the vault, one with an attachment and a follow-up."""
    alice, bob = Submitter.new(), Submitter.new()
    bundle = (
        InboundBundle()
        .add_report(alice.case_id, alice.report(desks, attachments=[("a.txt", b"evidence")]))
        .add_report(bob.case_id, bob.report(desks))
        .add_followup(alice.case_id, 1, alice.followup(desks))
    )
    import_bundle(vault, bundle.write(tmp_path / "in.qlb"))
    return alice, bob


def read_outbound(path, manifest):
    with open(path, "rb") as f:
        bundle = read_bundle(f, OUTBOUND, manifest)
        return bundle, [bundle.read_blob(f, i) for i in range(len(bundle.blob_sizes))]


def test_reply_and_export_make_a_bundle_the_server_and_the_submitter_accept(vault, tmp_path, imported, manifest):
    alice, bob = imported
    first = write_reply(vault, alice.case_id, "received", "We have your report.")
    second = write_reply(vault, alice.case_id, "more_information_needed", "When did this happen?")
    to_bob = write_reply(vault, bob.case_id, "assessing", "We are looking at it.")
    assert (first["seq"], second["seq"], to_bob["seq"]) == (1, 2, 1)

    result = export_bundle(vault, tmp_path / "out.qlb")
    assert (result.replies, result.acks) == (3, 4)  # two reports, a follow-up, an attachment
    bundle, blobs = read_outbound(result.path, manifest)
    header = bundle.header
    assert bundle.signer.id == "desk-1" and header["desk"] == "desk-1"
    assert header["bundle_id"] == result.bundle_id
    assert sorted((r["case_id"], r["seq"]) for r in header["replies"]) == sorted(
        [(alice.case_id, 1), (alice.case_id, 2), (bob.case_id, 1)]
    )
    assert {a["type"] for a in header["acks"]} == {"report", "followup", "attachment"}
    for entry in header["replies"]:
        who = alice if entry["case_id"] == alice.case_id else bob
        reply = open_reply(blobs[entry["blob"]], manifest, who.keys.reply_public, who.keys.reply_secret, who.case_id)
        assert reply.seq == entry["seq"] and reply.desk == "desk-1"
        if (entry["case_id"], entry["seq"]) == (alice.case_id, 2):
            assert (reply.status, reply.text) == ("more_information_needed", "When did this happen?")
    # Only the case's own key opens its reply.
    entry = next(e for e in header["replies"] if e["case_id"] == bob.case_id)
    with pytest.raises(ProtocolError):
        open_reply(blobs[entry["blob"]], manifest, alice.keys.reply_public, alice.keys.reply_secret, bob.case_id)


def test_unconfirmed_items_are_re_sent_and_confirmed_ones_are_not(vault, tmp_path, imported, manifest):
    alice, _ = imported
    write_reply(vault, alice.case_id, "received", "Received.")
    one = export_bundle(vault, tmp_path / "1.qlb")
    write_reply(vault, alice.case_id, "assessing", "Assessing.")
    two = export_bundle(vault, tmp_path / "2.qlb")
    # Bundle one may have been lost: bundle two carries everything again, byte for byte.
    b1, blobs1 = read_outbound(one.path, manifest)
    b2, blobs2 = read_outbound(two.path, manifest)
    assert b1.header["bundle_id"] != b2.header["bundle_id"]
    assert (two.replies, two.acks) == (2, one.acks)
    assert blobs1[0] == blobs2[0]
    assert b1.header["acks"] == b2.header["acks"]

    # The server confirms bundle one: its items are done, the second reply is not.
    confirmation = InboundBundle(confirmed_outbound=[one.bundle_id]).write(tmp_path / "c1.qlb")
    assert import_bundle(vault, confirmation).confirmed_bundles == 1
    three = export_bundle(vault, tmp_path / "3.qlb")
    b3, _ = read_outbound(three.path, manifest)
    assert (three.replies, three.acks) == (1, 0)
    assert [(r["case_id"], r["seq"]) for r in b3.header["replies"]] == [(alice.case_id, 2)]

    # Then bundle three is confirmed, and an unknown id is ignored: nothing is left to send.
    confirmation = InboundBundle(confirmed_outbound=[three.bundle_id, "f" * 32]).write(tmp_path / "c2.qlb")
    assert import_bundle(vault, confirmation).confirmed_bundles == 1
    assert export_bundle(vault, tmp_path / "4.qlb") is None
    assert not (tmp_path / "4.qlb").exists()


def test_export_never_overwrites_a_file(vault, tmp_path, imported):
    alice, _ = imported
    write_reply(vault, alice.case_id, "received", "Received.")
    target = tmp_path / "out.qlb"
    target.write_bytes(b"an earlier bundle")
    with pytest.raises(FileExistsError):
        export_bundle(vault, target)
    assert target.read_bytes() == b"an earlier bundle"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # The vault records no bundle that was not written: everything is still due.
    assert vault.records("outbound") == []
    assert {data["state"] for _, data in vault.records("reply")} == {"pending"}
    assert {data["state"] for _, data in vault.records("ack")} == {"pending"}


def test_reply_refusals(vault, imported):
    alice, _ = imported
    with pytest.raises(WorkstationError, match="unknown status"):
        write_reply(vault, alice.case_id, "solved", "x")
    with pytest.raises(WorkstationError, match="needs a message"):
        write_reply(vault, alice.case_id, "received", "   ")
    with pytest.raises(WorkstationError, match="no case"):
        write_reply(vault, "0" * 32, "received", "x")
    with pytest.raises(ProtocolError) as info:
        write_reply(vault, alice.case_id, "received", "x" * (1024 * 1024))
    assert info.value.code == "too_large"
    assert write_reply(vault, alice.case_id, "received", "ok")["seq"] == 1  # refusals used no number
