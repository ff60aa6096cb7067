"""Helpers shared by the crypto/ unit tests (imported by conftest.py and the test modules)."""

from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from crypto import casekey, kdf
from crypto.desk import DeskKeys
from crypto.errors import ProtocolError
from crypto.manifest import Manifest

DAY = "2026-11-23"


@dataclass(frozen=True)
class Root:
    public: bytes
    secret: bytes


@dataclass(frozen=True)
class Case:
    key: bytes
    keys: kdf.CaseKeys
    id: str


def make_case(key: bytes | None = None) -> Case:
    key = key or casekey.generate()
    keys = kdf.derive_case_keys(key)
    return Case(key, keys, kdf.case_id(keys.lookup))


def make_manifest(desks, org: str = "Test Org", issued: str = DAY) -> Manifest:
    return Manifest(org=org, issued=issued, desks=tuple(d.public if isinstance(d, DeskKeys) else d for d in desks))


@contextmanager
def raises_code(*codes: str):
    """pytest.raises for a ProtocolError whose .code is one of `codes`."""
    with pytest.raises(ProtocolError) as info:
        yield info
    assert info.value.code in codes, f"got code {info.value.code!r}, expected one of {codes}"


def expect_protocol_error(fn, *args, **kwargs) -> ProtocolError | None:
    """Run fn; return the ProtocolError it raised, None if it returned; any other exception
    propagates (and fails the test)."""
    try:
        fn(*args, **kwargs)
    except ProtocolError as exc:
        return exc
    return None
