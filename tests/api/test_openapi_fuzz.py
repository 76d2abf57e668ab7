"""schemathesis against /openapi.json, on PostgreSQL: for valid and invalid requests to every
operation, no answer is a 5xx, invalid data is rejected, and every answer matches the spec
(status, content type, headers and body). One check is left out: that every schema-valid
request succeeds, which opaque cursors and definitions that must also parse cannot promise.

schemathesis' lazy pytest fixture does not run on pytest 9, so each operation's strategy is
driven by Hypothesis here, one bounded run per operation and generation mode.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from tests.conftest import make_settings
from tests.support.api import BOOTSTRAP_KEY, api_stack, workflow_fixture

AUTH = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
EXAMPLES_PER_OPERATION = 15


@pytest.fixture(scope="module")
def fuzz_stack(servers, tmp_path_factory):
    stack = api_stack(make_settings(tmp_path_factory.mktemp("fuzz"), servers.create_database(),
                                    ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY))
    client = stack.client()
    for name in ("chain", "approval"):
        workflow = client.post("/api/v1/workflows", json={"definition": workflow_fixture(name)}).json
        client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={"input": {"n": 1}})
    stack.run()
    yield stack
    stack.close()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_its_openapi_contract(fuzz_stack, mode):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_stack.app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def keeps_the_contract(case):
            # A query parameter whose value is [] is not sent at all, so a case negative only
            # through one arrives valid and is rightly accepted: schemathesis counts it as sent.
            assume(all(value != [] for value in (case.query or {}).values()))
            # A negative case may be negative only through its Authorization header; sending
            # our valid key over it would make a valid request that is rightly accepted.
            mutated_auth = mode is GenerationMode.NEGATIVE and "Authorization" in (case.headers or {})
            case.call_and_validate(headers=None if mutated_auth else AUTH,
                                   excluded_checks=[checks.positive_data_acceptance])

        try:
            keeps_the_contract()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE      # an operation without inputs has nothing to violate
        except Exception as exc:  # noqa: BLE001 - collected, reported together below
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("body", [
    {"definition": workflow_fixture("chain"), "name": "nul\x00"},
    {"definition": workflow_fixture("chain"), "description": "\x00"},
    b'{"definition": {"name": "lone \\ud800 surrogate", "nodes": [{"id": "a", "type": "noop"}]}}',
])
def test_what_postgresql_cannot_store_is_a_4xx(fuzz_stack, body):
    client = fuzz_stack.client()
    if isinstance(body, bytes):
        response = client.post("/api/v1/workflows", data=body, content_type="application/json")
    else:
        response = client.post("/api/v1/workflows", json=body)
    assert response.status_code in (400, 422), response.json
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_an_input_or_key_postgresql_cannot_store_is_422(fuzz_stack):
    client = fuzz_stack.client()
    workflow_id = client.get("/api/v1/workflows").json["items"][0]["id"]
    url = f"/api/v1/workflows/{workflow_id}/executions"
    for response in (client.post(url, json={"input": {"n": "\x00"}}),
                     client.post(url, json={"input": {"n": 1}}, headers={"Idempotency-Key": "nul\x00"})):
        assert response.status_code == 422
        assert response.json["message"] == "a value in the request cannot be stored (for example a NUL character)"
