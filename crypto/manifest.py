"""The recipients manifest: which desks may open reports and sign replies, signed by the
organisation's offline root key (docs/PROTOCOL.md, "Recipients manifest")."""

import re
from dataclasses import dataclass

from nacl.bindings import crypto_generichash_blake2b_salt_personal as _blake2b

from . import signing
from .encoding import b64decode, b64encode, is_int, json_bytes, json_load
from .errors import ProtocolError

FORMAT = "quietline.manifest"
VERSION = 1
KEY_ID_LABEL = b"quietline/desk-key-id/v1"
FINGERPRINT_LABEL = b"quietline/fingerprint/v1"
DESK_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")  # used with fullmatch: Python's $ also matches before a final "\n"
DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")  # used with fullmatch: no trailing newline, ASCII digits only
MAX_DESKS = 16


def fingerprint(public_key: bytes) -> str:
    """A key's fingerprint for people to compare: 16 bytes of BLAKE2b in 8 hex groups."""
    digest = _blake2b(public_key, digest_size=16, key=FINGERPRINT_LABEL).hex().upper()
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


@dataclass(frozen=True)
class DeskPublic:
    id: str
    name: str
    box_public: bytes  # X25519: opens reports and follow-ups
    sign_public: bytes  # Ed25519: signs replies and outbound bundles

    @property
    def key_id(self) -> bytes:
        """8 bytes naming this desk's key pair inside envelopes and replies."""
        return _blake2b(self.box_public + self.sign_public, digest_size=32, key=KEY_ID_LABEL)[:8]


@dataclass(frozen=True)
class Manifest:
    org: str
    issued: str
    desks: tuple[DeskPublic, ...]

    def desk_by_key_id(self, key_id: bytes) -> DeskPublic:
        for desk in self.desks:
            if desk.key_id == key_id:
                return desk
        raise ProtocolError("unknown_desk", "signed by a desk key that is not in the manifest")

    def desk_by_id(self, desk_id: str) -> DeskPublic:
        for desk in self.desks:
            if desk.id == desk_id:
                return desk
        raise ProtocolError("unknown_desk", f"desk {desk_id!r} is not in the manifest")


def _body(manifest: Manifest) -> dict:
    return {
        "v": VERSION,
        "org": manifest.org,
        "issued": manifest.issued,
        "desks": [
            {"id": d.id, "name": d.name, "box_pk": b64encode(d.box_public), "sign_pk": b64encode(d.sign_public)}
            for d in manifest.desks
        ],
    }


def sign_manifest(manifest: Manifest, root_secret: bytes) -> bytes:
    """The manifest file's bytes: the body travels as base64 so its signed bytes are exact."""
    _check(manifest)
    body = json_bytes(_body(manifest))
    signature = signing.sign("manifest", body, root_secret)
    return json_bytes({"format": FORMAT, "v": VERSION, "body": b64encode(body), "signature": b64encode(signature)})


def verify_manifest(data: bytes, root_public: bytes) -> Manifest:
    outer = json_load(data, what="manifest")
    if outer.get("format") != FORMAT:
        raise ProtocolError("bad_manifest", "not a Quietline manifest")
    if not _is_version(outer.get("v")):
        raise ProtocolError("unsupported_version", f"manifest version {outer.get('v')!r} is not supported")
    body = b64decode(outer.get("body"), field="manifest body")
    signing.verify("manifest", body, b64decode(outer.get("signature"), field="manifest signature"), root_public)
    return _parse_body(json_load(body, what="manifest body"))


def _is_version(value) -> bool:
    return is_int(value) and value == VERSION


def _parse_desk(desk) -> DeskPublic:
    if not isinstance(desk, dict):
        raise ProtocolError("bad_manifest", "a desk entry must be a JSON object")
    desk_id, name = desk.get("id"), desk.get("name")
    if not isinstance(desk_id, str) or not isinstance(name, str):
        raise ProtocolError("bad_manifest", "a desk has a text id and name")
    return DeskPublic(
        id=desk_id,
        name=name,
        box_public=b64decode(desk.get("box_pk"), field="desk box key", length=32),
        sign_public=b64decode(desk.get("sign_pk"), field="desk signing key", length=32),
    )


def _parse_body(body: dict) -> Manifest:
    if not _is_version(body.get("v")):
        raise ProtocolError("unsupported_version", "manifest body version is not supported")
    desks = body.get("desks")
    if not isinstance(desks, list) or not 1 <= len(desks) <= MAX_DESKS:
        raise ProtocolError("bad_manifest", f"a manifest lists 1 to {MAX_DESKS} desks")
    parsed = tuple(_parse_desk(d) for d in desks)
    org, issued = body.get("org"), body.get("issued")
    if not isinstance(org, str) or not isinstance(issued, str):
        raise ProtocolError("bad_manifest", "a manifest has a text org and issue day")
    manifest = Manifest(org=org, issued=issued, desks=parsed)
    _check(manifest)
    return manifest


def _check(manifest: Manifest) -> None:
    if not DAY.fullmatch(manifest.issued):
        raise ProtocolError("bad_manifest", "manifest issue day must be YYYY-MM-DD")
    if not 1 <= len(manifest.desks) <= MAX_DESKS:
        raise ProtocolError("bad_manifest", f"a manifest lists 1 to {MAX_DESKS} desks")
    ids = [d.id for d in manifest.desks]
    if len(set(ids)) != len(ids) or not all(DESK_ID.fullmatch(i) for i in ids):
        raise ProtocolError("bad_manifest", "desk ids must be unique lowercase slugs")
    # No two desks share a key: not the pair (key id), nor either key on its own.
    for keys in ([d.key_id for d in manifest.desks], [d.box_public for d in manifest.desks],
                 [d.sign_public for d in manifest.desks]):
        if len(set(keys)) != len(keys):
            raise ProtocolError("bad_manifest", "two desks share a key")
