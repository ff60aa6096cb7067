"""The Python protocol (crypto/) refuses every tampered artifact in the table with its code:
the desk's envelope opener, the case's reply opener, the bundle reader, the manifest
verifier and the attachment stream opener."""

import io

import pytest

from crypto.attachment import AttachmentOpener
from crypto.bundle import INBOUND, OUTBOUND, read_bundle
from crypto.envelope import open_envelope, parse_header
from crypto.errors import ProtocolError
from crypto.manifest import verify_manifest
from crypto.reply import open_replies

from .outcome import check
from .table import ACCEPTED, VALID, ids, rows_for
from .world import World


def python_outcomes(world: World, kind: str, artifact) -> list[str]:
    if kind == "reply":
        case = world.case(artifact.case)
        manifest = verify_manifest(world.manifest_bytes, world.root_pk)
        opened = open_replies(artifact.replies, manifest, case.keys.reply_public, case.keys.reply_secret, case.case_id)
        return [o.code if isinstance(o, ProtocolError) else ACCEPTED for o in opened]
    try:
        if kind in ("report", "followup", "withdrawal"):
            parse_header(artifact.envelope, expect_kind=artifact.envelope_kind)
            open_envelope(artifact.envelope, world.desk1.public, world.desk1.box_secret)
        elif kind == "inbound":
            read_bundle(io.BytesIO(artifact.data), INBOUND)
        elif kind == "outbound":
            read_bundle(io.BytesIO(artifact.data), OUTBOUND, verify_manifest(world.manifest_bytes, world.root_pk))
        elif kind == "manifest":
            verify_manifest(artifact.data, world.root_pk)
        elif kind == "attachment":
            opener = AttachmentOpener(world.att)
            for chunk in artifact.chunks:
                opener.open_chunk(chunk)
            opener.finish()
        else:
            raise AssertionError(f"unknown artifact {kind}")
    except ProtocolError as exc:
        return [exc.code]
    return [ACCEPTED]


@pytest.mark.parametrize("kind", sorted(VALID))
def test_valid_artifact_is_accepted(world, kind):
    check(python_outcomes(world, kind, VALID[kind](world)), ACCEPTED, f"valid {kind}")


@pytest.mark.parametrize("tamper", rows_for("python"), ids=ids(rows_for("python")))
def test_tampered_artifact_is_refused(world, tamper):
    check(python_outcomes(world, tamper.artifact, tamper.build(world)), tamper.expect.python, tamper.name)
