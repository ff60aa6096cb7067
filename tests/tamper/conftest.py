"""Fixtures: the World every tamper case is built from (once per session); the API test
app of tests/api configured with the World's manifest and desk tokens; Chromium and the
static server of tests/vectors for the browser layer."""

import pytest

from api.conftest import *  # noqa: F401,F403 - the API app fixtures (env, settings, clock, app, client, ...)
from api.conftest import Org
from server.security.desk_auth import hash_token, new_token
from vectors.conftest import chromium, static_server, vendored  # noqa: F401 - the browser layer's fixtures

from .world import World, build_world


@pytest.fixture(scope="session")
def world() -> World:
    return build_world()


@pytest.fixture(scope="session")
def org(world) -> Org:
    """tests/api's organisation, made of the World's keys: the server under test trusts the
    World's manifest and knows desk-1's and desk-2's tokens."""
    tokens = {d: new_token() for d in ("desk-1", "desk-2")}
    return Org(
        root_pk=world.root_pk,
        root_sk=world.root_sk,
        desks={"desk-1": world.desk1, "desk-2": world.desk2},
        outsider=world.outsider,
        manifest_bytes=world.manifest_bytes,
        tokens=tokens,
        token_hashes={d: hash_token(t) for d, t in tokens.items()},
    )
