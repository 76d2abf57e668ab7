"""Webhook triggers through the API: made with a secret shown once and kept sealed; a signed
request starts one execution (trigger and lineage ``webhook``, audited as its owner); a
request badly signed, outside the window or replayed starts none, saying why."""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from sqlalchemy import func, select, text

from orchestrator.crypto import KeyRing, generate_key
from orchestrator.db import Execution
from orchestrator.services.keys import rotate_keys
from tests.conftest import make_settings
from tests.support.api import BOOTSTRAP_KEY, api_stack, new_workflow

HEADER = "Orchestrator-Signature"


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The signature header, computed here as a sender would, with hmac and hashlib only."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {HEADER: f"t={timestamp},v1={digest}"}


def post(client, hook, payload, secret=None, headers=None, query="", timestamp=None, content_type="application/json"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sign = signed(secret or hook["secret"], body, timestamp)
    path = hook["url"].split("://", 1)[1].split("/", 1)[1]
    return client.post(f"/{path}{query}", data=body, content_type=content_type, headers={**sign, **(headers or {})})


def executions(stack) -> int:
    with stack.engine.sessions() as session:
        return session.scalar(select(func.count()).select_from(Execution))


@pytest.fixture
def hook(client):
    workflow_id = new_workflow(client, "chain")
    made = client.post(f"/api/v1/workflows/{workflow_id}/webhooks", json={
        "name": "orders", "input_template": {"n": "{{ body.order.quantity }}", "source": "{{ headers['x-source'] | default('unknown') }}",
                                             "region": "{{ query.region | default('any') }}"},
        "idempotency_header": "X-Delivery"})
    assert made.status_code == 201, made.json
    return made.json


def test_a_webhook_is_made_with_its_secret_once_and_kept_sealed(client, stack, hook):
    assert hook["url"].endswith(f"/api/v1/hooks/{hook['id']}") and hook["url"].startswith("http")
    assert hook["secret"].startswith("whsec_") and hook["signature_header"] == HEADER
    [listed] = client.get(f"/api/v1/workflows/{hook['workflow_id']}/webhooks").json["items"]
    assert "secret" not in listed and listed["url"] == hook["url"] and listed["last_called_at"] is None
    with stack.engine.sessions() as session:
        stored = session.execute(text("SELECT * FROM webhooks")).mappings().one()
    assert hook["secret"].encode() not in b"".join(v for v in stored.values() if isinstance(v, bytes))
    assert hook["secret"] not in json.dumps({k: str(v) for k, v in stored.items()})


def test_a_signed_request_starts_one_execution_mapped_by_the_template(client, stack, hook):
    answer = post(client, hook, {"order": {"quantity": 4}}, headers={"X-Source": "shop", "X-Delivery": "d-1"},
                  query="?region=eu")
    assert answer.status_code == 202, answer.json
    assert answer.json["status"] == "pending"
    stack.run()
    execution = client.get(f"/api/v1/executions/{answer.json['execution_id']}").json
    assert execution["input"] == {"n": 4, "source": "shop", "region": "eu"}
    assert (execution["trigger"], execution["status"], execution["output"]) == ("webhook", "completed", {"result": 50})
    [origin] = client.get(f"/api/v1/executions/{execution['id']}/lineage").json["started_by"]
    assert (origin["kind"], origin["ref_id"], origin["label"]) == ("webhook", hook["id"], "webhook orders")
    [entry] = client.get("/api/v1/audit-logs", query_string={"action": "execution.create"}).json["items"]
    assert entry["object_id"] == execution["id"] and entry["payload"]["trigger"] == "webhook"
    assert entry["user_id"] is not None and entry["api_key_id"] is None and entry["client_address"] == "127.0.0.1"
    assert client.get(f"/api/v1/workflows/{hook['workflow_id']}/webhooks").json["items"][0]["last_called_at"]


def test_bad_signatures_stale_ones_and_replays_start_nothing(client, stack, hook):
    body = {"order": {"quantity": 1}}
    first = post(client, hook, body, headers={"X-Delivery": "d-1"})
    assert first.status_code == 202
    refused = {
        "wrong secret": post(client, hook, body, secret="whsec_guess", headers={"X-Delivery": "d-2"}),
        "no header": client.post(f"/api/v1/hooks/{hook['id']}", json=body, headers={"X-Delivery": "d-3"}),
        "malformed": client.post(f"/api/v1/hooks/{hook['id']}", json=body, headers={HEADER: "sha256=abc"}),
        "stale": post(client, hook, body, timestamp=int(time.time()) - 301, headers={"X-Delivery": "d-4"}),
        "ahead": post(client, hook, body, timestamp=int(time.time()) + 400, headers={"X-Delivery": "d-5"}),
    }
    assert {name: answer.status_code for name, answer in refused.items()} == dict.fromkeys(refused, 401)
    assert "does not match the body" in refused["wrong secret"].json["message"]
    assert "no Orchestrator-Signature header" in refused["no header"].json["message"]
    assert "must read t=<unix seconds>,v1=" in refused["malformed"].json["message"]
    assert "s old; it must be within 300 s" in refused["stale"].json["message"]
    assert "s ahead; it must be within 300 s" in refused["ahead"].json["message"]
    timestamp = int(first.request.headers[HEADER].split(",")[0][2:])
    replay = post(client, hook, body, timestamp=timestamp, headers={"X-Delivery": "d-6"})
    assert replay.status_code == 409 and "replayed request is refused" in replay.json["message"]
    assert executions(stack) == 1


def test_the_same_idempotency_key_is_the_same_execution(client, stack, hook):
    now = int(time.time())
    first = post(client, hook, {"order": {"quantity": 2}}, headers={"X-Delivery": "evt-7"}, timestamp=now)
    again = post(client, hook, {"order": {"quantity": 2}}, headers={"X-Delivery": "evt-7"},
                 timestamp=now - 1)     # a retry: signed anew
    other = post(client, hook, {"order": {"quantity": 2}}, headers={"X-Delivery": "evt-8"},
                 timestamp=now - 2)     # the same body signed at the same second is a replay
    assert [r.status_code for r in (first, again, other)] == [202, 202, 202]
    assert first.json["execution_id"] == again.json["execution_id"] != other.json["execution_id"]
    conflict = post(client, hook, {"order": {"quantity": 3}}, headers={"X-Delivery": "evt-7"},
                    timestamp=now - 3)
    assert conflict.status_code == 409 and "Idempotency-Key was already used" in conflict.json["message"]
    assert executions(stack) == 2


def test_a_key_from_a_body_field_and_the_body_as_the_input(client, stack):
    workflow_id = new_workflow(client, "chain")
    hook = client.post(f"/api/v1/workflows/{workflow_id}/webhooks", json={"idempotency_field": "event.id"}).json
    now = int(time.time())
    ids = {post(client, hook, {"n": 1, "event": {"id": "e-1"}}, timestamp=now - i).json["execution_id"]
           for i in range(3)}
    assert len(ids) == 1 and executions(stack) == 1
    missing = post(client, hook, {"n": 1, "event": {}})
    assert missing.status_code == 422 and "body field 'event.id', which the request lacks" in missing.json["message"]
    text_body = post(client, hook, b"plain words", content_type="text/plain")
    assert text_body.status_code == 422 and "the body is str" in text_body.json["message"]


def test_bad_input_and_bad_webhooks_are_4xx_naming_the_problem(client, other, hook):
    workflow_id = hook["workflow_id"]
    cases = {
        "template": client.post(f"/api/v1/workflows/{workflow_id}/webhooks", json={"input_template": {"a": "{{ x"}}),
        "both keys": client.post(f"/api/v1/workflows/{workflow_id}/webhooks",
                                 json={"idempotency_header": "X-Id", "idempotency_field": "id"}),
        "header name": client.post(f"/api/v1/workflows/{workflow_id}/webhooks", json={"idempotency_header": "a b"}),
        "tolerance": client.post(f"/api/v1/workflows/{workflow_id}/webhooks", json={"tolerance_seconds": 0}),
        "not the owner's": other.post(f"/api/v1/workflows/{workflow_id}/webhooks", json={}),
        "unknown hook": client.post("/api/v1/hooks/00000000-0000-0000-0000-000000000000", json={}),
        "not JSON": post(client, hook, b"{oops", headers={"X-Delivery": "x"}),
        "too deep": post(client, hook, b"[" * 100_000 + b"]" * 100_000, headers={"X-Delivery": "z"}),
        "no key header": post(client, hook, {"order": {"quantity": 1}}),
        "template fails": post(client, hook, {"order": "none"}, headers={"X-Delivery": "y"}),
    }
    assert {name: answer.status_code for name, answer in cases.items()} == {
        "template": 422, "both keys": 422, "header name": 422, "tolerance": 422, "not the owner's": 404,
        "unknown hook": 404, "not JSON": 422, "too deep": 422, "no key header": 422, "template fails": 422}
    assert "input_template.a" in json.dumps(cases["template"].json["errors"])
    assert "header X-Delivery" in cases["no key header"].json["message"]
    assert "input_template" in cases["template fails"].json["message"]


def test_the_owners_rate_limit_applies_and_a_deleted_webhook_is_gone(client, stack, hook):
    owner_id = client.get("/api/v1/audit-logs").json["items"][0]["user_id"]
    assert client.put(f"/api/v1/users/{owner_id}/limits",
                      json={"max_executions_per_minute": 1, "max_llm_cost_per_day": None}).status_code == 200
    answers = [post(client, hook, {"order": {"quantity": 1, "id": i}}, headers={"X-Delivery": f"r-{i}"})
               for i in range(2)]
    assert answers[0].status_code == 202
    if answers[1].status_code == 202:       # the minute turned between the two: one more in the new one
        answers.append(post(client, hook, {"order": {"quantity": 1, "id": 2}}, headers={"X-Delivery": "r-2"}))
    assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) >= 1
    assert answers[-1].json["message"] == "over the limit of 1 executions per minute"
    assert client.delete(f"/api/v1/workflows/{hook['workflow_id']}/webhooks/{hook['id']}").status_code == 204
    assert post(client, hook, {"order": {"quantity": 1, "id": 3}}, headers={"X-Delivery": "r-3"}).status_code == 404
    assert executions(stack) == len(answers) - 1


def test_the_secrets_rotate_with_the_encryption_keys(tmp_path):
    old_key, new_key = generate_key(), generate_key()
    before = api_stack(make_settings(tmp_path, keys=old_key, ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY))
    client = before.client()
    workflow_id = new_workflow(client, "chain")
    hook = client.post(f"/api/v1/workflows/{workflow_id}/webhooks", json={}).json
    client.post(f"/api/v1/workflows/{workflow_id}/notifications", json={"url": "https://example.com/n?token=t0k"})
    with before.engine.sessions.begin() as session:
        assert rotate_keys(session, KeyRing.from_strings([new_key, old_key])) == 3     # with the definition
    before.close()
    after = api_stack(make_settings(tmp_path, keys=new_key, ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY))
    try:
        client = after.client()
        assert post(client, hook, {"n": 1}).status_code == 202
        [target] = client.get(f"/api/v1/workflows/{workflow_id}/notifications").json["items"]
        assert target["url"] == "https://example.com/n"
    finally:
        after.close()


def test_every_new_operation_is_in_the_openapi_spec_with_its_errors(anonymous):
    spec = anonymous.get("/openapi.json").json
    statuses = {(method.upper(), path): set(op["responses"]) - {"default"} for path, item in spec["paths"].items()
                for method, op in item.items() if method != "parameters"}
    assert statuses[("POST", "/api/v1/hooks/{webhook_id}")] == {"202", "401", "404", "409", "413", "422", "429"}
    assert spec["paths"]["/api/v1/hooks/{webhook_id}"]["post"]["security"] == []
    for operation in [("POST", "/api/v1/workflows/{workflow_id}/webhooks"),
                      ("GET", "/api/v1/workflows/{workflow_id}/webhooks"),
                      ("DELETE", "/api/v1/workflows/{workflow_id}/webhooks/{webhook_id}"),
                      ("POST", "/api/v1/workflows/{workflow_id}/notifications"),
                      ("GET", "/api/v1/workflows/{workflow_id}/notifications"),
                      ("DELETE", "/api/v1/workflows/{workflow_id}/notifications/{target_id}"),
                      ("GET", "/api/v1/executions/{execution_id}/notifications")]:
        assert {"401", "404"} <= statuses[operation], operation
