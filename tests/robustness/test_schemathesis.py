"""Schemathesis against the live OpenAPI description: thousands of generated requests, valid
and invalid, to every operation the app publishes, in-process over ASGI.

Every answer must be no 5xx, a status the operation documents, the content type it documents,
a body that matches the documented schema, and only documented headers of the documented
form. The operations come from `/api/openapi.json` itself, so an endpoint or field added later
is exercised without a change here.

Random values almost never name a real case or upload, nor solve a proof of work, so the app
is first given real state through the API (a filed case with a follow-up and a reply, an
unfiled upload), and generated requests have their lookup, envelope, upload ids, chunk bodies
and outbound bundles swapped for real ones, and get a solved proof of work, part of the time:
that reaches the code behind "unknown case" and "proof required".

Runs are reproducible (fixed seed, derandomized Hypothesis). The default budget keeps the file
to about a minute or two on a 2-core machine; `QUIETLINE_SCHEMATHESIS_EXAMPLES=N` sets the
examples per operation for a longer run, `QUIETLINE_SCHEMATHESIS_SEED` another seed
(docs/DEVELOPMENT.md).
"""

import hashlib
import os
import secrets
from dataclasses import dataclass, field

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.conftest import Clock, Org
from api.support import (
    POW_PATHS,
    ProvingClient,
    Submitter,
    attachment,
    file_case,
    make_reply,
    outbound_bundle,
    pow_binding,
    prove,
    upload,
)
from crypto.encoding import b64encode
from server.app import create_app

EXAMPLES = int(os.environ.get("QUIETLINE_SCHEMATHESIS_EXAMPLES", "400"))
SEED = int(os.environ.get("QUIETLINE_SCHEMATHESIS_SEED", "20261123"))
# Fewer than this many requests in all means the run did not test what it claims to.
MIN_REQUESTS = 10 * EXAMPLES
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@dataclass
class Real:
    """Values the app holds, to put in place of generated ones."""

    json_fields: dict[str, list] = field(default_factory=dict)  # body field name -> real values
    path: dict[str, list] = field(default_factory=dict)  # path parameter -> real values
    query: dict[str, list] = field(default_factory=dict)  # query parameter -> real values
    octets: dict[str, list[bytes]] = field(default_factory=dict)  # operation path -> real bodies


def seed_state(client: ProvingClient, org: Org) -> Real:
    """A case with an attachment, a follow-up and a reply; an unfiled resumable upload with one
    of its two chunks; and bodies that the streaming endpoints accept."""
    desks = list(org.desks.values())
    filed = Submitter()
    att = attachment(10)
    file_case(client, filed, desks, [att])
    followup = client.post("/api/v1/cases/followups", json={"lookup": filed.lookup, "envelope": b64encode(filed.followup(desks))})
    assert followup.status_code == 201, followup.text
    _, bundle = outbound_bundle(org.desks["desk-1"], replies=[(filed.case_id, 1, make_reply(org.desks["desk-1"], filed, 1))])
    pushed = client.post("/api/v1/desk/outbound", content=bundle, headers=org.auth("desk-1"))
    assert pushed.status_code == 200, pushed.text

    pending = attachment(300_000, seed=8)  # two chunks
    unfiled = upload(client, pending, skip=(1,))
    newcomer = Submitter()
    replies = [(filed.case_id, 2, make_reply(org.desks["desk-1"], filed, 2))]
    return Real(
        json_fields={
            "lookup": [filed.lookup, newcomer.lookup, b64encode(secrets.token_bytes(32))],
            "envelope": [b64encode(filed.followup(desks)), b64encode(newcomer.report(desks))],
            "uploads": [[unfiled], [att.upload_id], []],
            "chunks": [1, 2, 3, 4096, 4097],
            "resume": [b64encode(secrets.token_bytes(32))],
            "header": [b64encode(secrets.token_bytes(24))],
        },
        path={"upload_id": [unfiled, att.upload_id], "index": [0, 1, 2, -1]},
        query={"purpose": ["report", "followup", "upload"]},
        octets={
            "/api/v1/uploads/{upload_id}/chunks/{index}": [pending.chunks[1], pending.chunks[0][:-1]],
            "/api/v1/desk/outbound": [outbound_bundle(org.desks["desk-1"], replies=replies)[1], bundle,
                                      outbound_bundle(org.desks["desk-2"], desk_id="desk-1")[1]],
        },
    )


@dataclass
class Seeded:
    app: object
    real: Real
    client: TestClient  # fetches proof-of-work challenges while the run goes


@pytest.fixture
def seeded(org: Org, settings, clock: Clock) -> Seeded:
    app = create_app(settings, today=clock)
    with ProvingClient(app) as client:
        real = seed_state(client, org)
    return Seeded(app, real, TestClient(app))


@pytest.fixture
def api_schema(seeded: Seeded, org: Org):
    token = org.auth("desk-1")["Authorization"].removeprefix("Bearer ")
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "generation": {"deterministic": True},
        "auth": {"openapi": {"deskToken": {"bearer": token}}},
        # 507 storage_full is the server's documented refusal once a storage quota is reached
        # (generated uploads reserve up to 1 GiB each, so a long run reaches it); it must still
        # be listed by the route (status_code_conformance) and carry that code (below).
        "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "507"]}},
    })
    yield schemathesis.openapi.from_asgi("/api/openapi.json", seeded.app, config=config)
    shutdown_lifespans()  # ends the app's lifespan (closing its database) before the folder goes


schema = schemathesis.pytest.from_fixture("api_schema")

# Requests sent and statuses answered, per operation ("POST /api/v1/cases"), for the summary test.
SENT: dict[str, dict[int, int]] = {}
CODES: dict[str, dict[str, int]] = {}  # error codes answered, per operation
PUBLISHED: dict[str, bool] = {}  # every operation the live description lists -> whether it takes inputs


def use_real_values(case, real: Real) -> None:
    """Part of the time, put real values in place of generated ones. The choice is a hash of
    the generated case, so a run is as reproducible as its generation (and every phase,
    including Schemathesis's coverage phase, keeps running: a Hypothesis `data()` would not)."""
    generated = repr((case.method, case.operation.path, case.path_parameters, case.query, case.body))

    def maybe(options: list, label: str):
        pick = hashlib.blake2b(f"{label}\n{generated}".encode(), digest_size=4).digest()
        return ([None, None] + options)[int.from_bytes(pick, "big") % (len(options) + 2)]
    if isinstance(case.body, dict):
        for name, options in real.json_fields.items():
            if name in case.body and (value := maybe(options, name)) is not None:
                case.body[name] = value
    elif case.operation.path in real.octets and (value := maybe(real.octets[case.operation.path], "body")) is not None:
        case.body = value
    for name, options in real.path.items():
        if case.path_parameters and name in case.path_parameters and (value := maybe(options, name)) is not None:
            case.path_parameters[name] = value
    for name, options in real.query.items():
        if name in (case.operation.query or ()) and (value := maybe(options, name)) is not None:
            case.query = {**(case.query or {}), name: value}


def add_proof(case, seeded: Seeded) -> None:
    """Half the JSON objects sent where a proof of work is needed get a solved one."""
    purpose = POW_PATHS.get(case.operation.path)
    if purpose and case.method.upper() == "POST" and isinstance(case.body, dict):
        pick = hashlib.blake2b(repr(case.body).encode(), digest_size=1).digest()[0]
        if pick % 2:
            case.body["proof"] = prove(seeded.client, purpose, pow_binding(purpose, case.body))


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_openapi_description(case, seeded: Seeded) -> None:
    if not PUBLISHED:
        for result in case.operation.schema.get_all_operations():
            op = result.ok()
            PUBLISHED[op.label] = bool(len(op.path_parameters) or len(op.query) or len(op.headers) or len(op.body))
    use_real_values(case, seeded.real)
    add_proof(case, seeded)
    response = case.call_and_validate(checks=CHECKS)
    # By operation: the coverage phase also sends other methods to its path (405 expected).
    statuses = SENT.setdefault(case.operation.label, {})
    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    if response.status_code >= 400 and response.headers.get("content-type", [""])[0].startswith("application/json"):
        code = (response.json().get("error") or {}).get("code", "?")
        CODES.setdefault(case.operation.label, {}).setdefault(code, 0)
        CODES[case.operation.label][code] += 1
        assert response.status_code != 507 or code == "storage_full", response.text


def test_every_operation_was_exercised(request):
    """Runs after the test above (same module, file order): it sent thousands of requests,
    to every operation, and reached past refusals on the ones that can succeed."""
    if not SENT:
        pytest.fail("the Schemathesis test did not run first in this session (run the whole file)")
    total = sum(sum(s.values()) for s in SENT.values())
    summary = "; ".join(f"{op}: {dict(sorted(s.items()))}" for op, s in sorted(SENT.items()))
    print(f"\nSchemathesis: {total} requests to {len(SENT)} operations. {summary}")
    print("Error codes: " + "; ".join(f"{op}: {dict(sorted(c.items()))}" for op, c in sorted(CODES.items())))
    assert total >= MIN_REQUESTS, summary
    assert PUBLISHED and set(PUBLISHED) <= set(SENT), f"operations never called: {set(PUBLISHED) - set(SENT)}"
    # Every operation with inputs got many requests (one without any has few distinct ones).
    few = [op for op, has_inputs in PUBLISHED.items() if has_inputs and sum(SENT[op].values()) < EXAMPLES // 2]
    assert not few, f"too few requests to {few}: {summary}"
    succeeded = {op for op, s in SENT.items() if any(200 <= code < 300 for code in s)}
    assert {"POST /api/v1/cases", "POST /api/v1/cases/followups", "POST /api/v1/cases/lookup", "POST /api/v1/uploads",
            "GET /api/v1/uploads/{upload_id}", "PUT /api/v1/uploads/{upload_id}/chunks/{index}",
            "GET /api/v1/desk/inbound", "POST /api/v1/desk/outbound"} <= succeeded, summary


def test_the_checks_fail_on_an_answer_off_its_description():
    """The same checks, against a toy app that answers what it does not document: each fails."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, PlainTextResponse
    from pydantic import BaseModel
    from schemathesis.core.failures import FailureGroup

    class Out(BaseModel):
        seq: int

    toy = FastAPI()

    @toy.get("/status", response_model=Out)
    def undocumented_status():
        return JSONResponse({"seq": 1}, status_code=418)

    @toy.get("/shape", response_model=Out)
    def wrong_shape():
        return JSONResponse({"seq": "one"})

    @toy.get("/type", response_model=Out)
    def wrong_type():
        return PlainTextResponse("seq=1")

    @toy.get("/crash", response_model=Out)
    def crash():
        return JSONResponse({"error": "boom"}, status_code=500)

    toy_schema = schemathesis.openapi.from_asgi("/openapi.json", toy)
    for path in ("/status", "/shape", "/type", "/crash"):
        with pytest.raises(FailureGroup):
            toy_schema[path]["GET"].Case().call_and_validate(checks=CHECKS)
