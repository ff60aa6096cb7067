"""Fixtures for the robustness tests: the API fixtures (organisation, deployment folder, test
settings, clock) are the ones tests/api uses, so the app under attack is configured exactly as
in the API tests."""

from _pytest.nodeid import coerce_node_id
from _pytest.nodes import Node

from api.conftest import blob_backend, blob_settings, clock, database_url, env, org, settings  # noqa: F401 (fixtures)

# schemathesis 4.32.5's `pytest.from_fixture` names each operation's subtest by assigning
# `request.node._nodeid`, which pytest 9.2 replaced with a structured `_id`. Give the old name
# back as a property over the new one; it is skipped once either side has it again.
if not hasattr(Node, "_nodeid"):
    Node._nodeid = property(lambda node: node.nodeid, lambda node, value: setattr(node, "_id", coerce_node_id(value)))
