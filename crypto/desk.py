"""A desk's key pairs, created on the workstation and never leaving it."""

from dataclasses import dataclass

from nacl.bindings import crypto_box_keypair, crypto_sign_keypair

from .manifest import DeskPublic


@dataclass(frozen=True)
class DeskKeys:
    id: str
    name: str
    box_public: bytes
    box_secret: bytes
    sign_public: bytes
    sign_secret: bytes

    @classmethod
    def generate(cls, desk_id: str, name: str) -> "DeskKeys":
        box_pk, box_sk = crypto_box_keypair()
        sign_pk, sign_sk = crypto_sign_keypair()
        return cls(desk_id, name, box_pk, box_sk, sign_pk, sign_sk)

    @property
    def public(self) -> DeskPublic:
        return DeskPublic(self.id, self.name, self.box_public, self.sign_public)
