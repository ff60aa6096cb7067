"""Shared fixtures for the crypto/ unit tests: an organisation root key, three desks, a
signed manifest, and a case with its derived keys.

Keys are generated once per session (key generation is cheap, but the fixtures are used by
hundreds of tests and a fixed set keeps failures reproducible within a run)."""

import io

import pytest
from nacl.bindings import crypto_sign_keypair

from crypto.desk import DeskKeys
from crypto.manifest import Manifest, sign_manifest, verify_manifest
from ql_helpers import Case, Root, make_case, make_manifest


@pytest.fixture(scope="session")
def root() -> Root:
    pk, sk = crypto_sign_keypair()
    return Root(pk, sk)


@pytest.fixture(scope="session")
def other_root() -> Root:
    pk, sk = crypto_sign_keypair()
    return Root(pk, sk)


@pytest.fixture(scope="session")
def desks() -> tuple[DeskKeys, ...]:
    return tuple(DeskKeys.generate(f"desk-{i}", f"Desk {i}") for i in range(1, 4))


@pytest.fixture(scope="session")
def outsider() -> DeskKeys:
    """A desk with valid keys that no manifest in these tests lists."""
    return DeskKeys.generate("outsider", "Not in the manifest")


@pytest.fixture(scope="session")
def manifest(desks) -> Manifest:
    return make_manifest(desks)


@pytest.fixture(scope="session")
def manifest_bytes(manifest, root) -> bytes:
    return sign_manifest(manifest, root.secret)


@pytest.fixture(scope="session")
def verified_manifest(manifest_bytes, root) -> Manifest:
    return verify_manifest(manifest_bytes, root.public)


@pytest.fixture(scope="session")
def case() -> Case:
    return make_case()


@pytest.fixture(scope="session")
def other_case() -> Case:
    return make_case()


@pytest.fixture
def bio():
    """A fresh in-memory binary file."""
    return io.BytesIO()
