"""/api/v1/providers and what a provider holds (endpoints, credentials, models), /usage and an
execution's /calls and /structured-outputs."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from orchestrator.db import ExecutionStep, StepCall
from orchestrator.llm import account
from orchestrator.nodes.base import CallRecord, NodeContext
from tests.conftest import make_settings
from tests.support.api import BOOTSTRAP_KEY, api_stack

PUBLIC_URL = "https://93.184.216.34/v1"      # an address literal: checked without DNS
CREDENTIAL_FIELDS = {"id", "provider_id", "alias", "key_hint", "expires_at", "quota_limit", "quota_used", "is_active",
                     "last_used_at", "cooldown_until", "created_at", "updated_at"}


def provider(client, name="acme", type="openai"):
    response = client.post("/api/v1/providers", json={"name": name, "type": type})
    assert response.status_code == 201, response.json
    return response.json


def test_provider_crud_and_conflicts(client, other):
    created = provider(client)
    assert (created["name"], created["type"], created["is_active"], created["description"]) == \
        ("acme", "openai", True, None)
    assert client.post("/api/v1/providers", json={"name": "acme", "type": "local"}).status_code == 409
    assert provider(other)["name"] == "acme"                     # names are per owner
    changed = client.patch(f"/api/v1/providers/{created['id']}", json={"description": "main", "is_active": False})
    assert (changed.json["description"], changed.json["is_active"]) == ("main", False)
    assert [p["id"] for p in client.get("/api/v1/providers").json["items"]] == [created["id"]]
    assert other.get(f"/api/v1/providers/{created['id']}").status_code == 404
    assert client.delete(f"/api/v1/providers/{created['id']}").status_code == 204
    assert client.get(f"/api/v1/providers/{created['id']}").status_code == 404


def test_bedrock_is_not_supported_yet(client):
    response = client.post("/api/v1/providers", json={"name": "aws", "type": "bedrock"})
    assert response.status_code == 422
    assert response.json["message"] == "provider type bedrock is not supported yet"
    assert client.post("/api/v1/providers", json={"name": "x", "type": "nope"}).json["errors"]["type"]


def test_provider_list_pages_with_a_cursor(client):
    for i in range(3):
        provider(client, f"p{i}")
    first = client.get("/api/v1/providers?limit=2").json
    second = client.get(f"/api/v1/providers?limit=2&cursor={first['next_cursor']}").json
    assert [p["name"] for p in first["items"] + second["items"]] == ["p2", "p1", "p0"]
    assert second["next_cursor"] is None


def test_endpoints_first_is_default_and_one_default_at_a_time(client, other):
    pid = provider(client)["id"]
    first = client.post(f"/api/v1/providers/{pid}/endpoints", json={"name": "a", "base_url": PUBLIC_URL}).json
    assert (first["is_default"], first["timeout_connect"], first["timeout_read"], first["retry_count"]) == \
        (True, 10.0, 60.0, 3)
    second = client.post(f"/api/v1/providers/{pid}/endpoints",
                         json={"name": "b", "base_url": PUBLIC_URL, "is_default": True}).json
    assert second["is_default"] is True
    assert client.get(f"/api/v1/endpoints/{first['id']}").json["is_default"] is False
    assert client.post(f"/api/v1/providers/{pid}/endpoints", json={"name": "a", "base_url": PUBLIC_URL}).status_code \
        == 409
    assert other.get(f"/api/v1/endpoints/{first['id']}").status_code == 404
    assert other.post(f"/api/v1/providers/{pid}/endpoints", json={"name": "c", "base_url": PUBLIC_URL}).status_code \
        == 404
    assert client.patch(f"/api/v1/endpoints/{first['id']}", json={"retry_count": 0}).json["retry_count"] == 0
    assert client.delete(f"/api/v1/endpoints/{first['id']}").status_code == 204


def test_a_private_base_url_is_refused_unless_allowed(client, tmp_path):
    pid = provider(client)["id"]
    response = client.post(f"/api/v1/providers/{pid}/endpoints",
                           json={"name": "local", "base_url": "http://127.0.0.1:11434/v1"})
    assert response.status_code == 422
    assert "loopback address" in response.json["message"]
    assert "ORCHESTRATOR_LLM_ALLOW_PRIVATE=1" in response.json["message"]
    assert client.post(f"/api/v1/providers/{pid}/endpoints",
                       json={"name": "ftp", "base_url": "ftp://93.184.216.34/"}).status_code == 422

    allowed = api_stack(make_settings(tmp_path / "allowed", ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY,
                                      ORCHESTRATOR_LLM_ALLOW_PRIVATE="1"))
    try:
        local = allowed.client()
        pid = provider(local)["id"]
        assert local.post(f"/api/v1/providers/{pid}/endpoints",
                          json={"name": "local", "base_url": "http://127.0.0.1:11434/v1"}).status_code == 201
    finally:
        allowed.close()


def test_a_credential_answers_its_hint_never_its_key(client, stack):
    pid = provider(client)["id"]
    key = "sk-live-0123456789abcdefWXYZ"
    created = client.post(f"/api/v1/providers/{pid}/credentials",
                          json={"alias": "main", "api_key": key, "secret_key": "s3cret-value", "quota_limit": 100})
    assert created.status_code == 201, created.json
    assert set(created.json) == CREDENTIAL_FIELDS
    assert (created.json["key_hint"], created.json["quota_used"], created.json["cooldown_until"]) == \
        ("...WXYZ", 0, None)
    cid = created.json["id"]
    pages = [client.get(f"/api/v1/credentials/{cid}"), client.get(f"/api/v1/providers/{pid}/credentials"),
             client.patch(f"/api/v1/credentials/{cid}", json={"quota_limit": None})]
    for page in pages:
        assert page.status_code == 200 and key not in page.get_data(as_text=True)
    assert pages[2].json["quota_limit"] is None
    dump = b"".join(f.read_bytes() for f in stack.engine.settings.data_dir.glob("orchestrator.db*"))
    assert b"...WXYZ" in dump and key.encode() not in dump and b"s3cret-value" not in dump
    # Both keys are sealed under the row's one key id: replacing one alone is refused.
    only_one = client.patch(f"/api/v1/credentials/{cid}", json={"api_key": "sk-new-key-0000000000000"})
    assert only_one.status_code == 422 and "together" in only_one.json["message"]
    both = client.patch(f"/api/v1/credentials/{cid}", json={"api_key": "sk-new-key-0000000000001",
                                                            "secret_key": "other"})
    assert both.json["key_hint"] == "...0001"


def test_models_with_prices(client):
    pid = provider(client)["id"]
    created = client.post(f"/api/v1/providers/{pid}/models",
                          json={"model_id": "gpt-4o-mini", "input_price": 0.00015, "output_price": "0.0006"})
    assert created.status_code == 201, created.json
    body = created.json
    assert (body["name"], body["type"], body["status"], body["input_price"], body["output_price"],
            body["capabilities"]) == ("gpt-4o-mini", "chat", "available", 0.00015, 0.0006, {})
    assert client.post(f"/api/v1/providers/{pid}/models", json={"model_id": "gpt-4o-mini"}).status_code == 409
    assert client.post(f"/api/v1/providers/{pid}/models", json={"model_id": "x", "input_price": -1}).status_code == 422
    changed = client.patch(f"/api/v1/models/{body['id']}", json={"status": "deprecated", "input_price": None})
    assert (changed.json["status"], changed.json["input_price"]) == ("deprecated", None)
    assert client.get(f"/api/v1/providers/{pid}/models").json["items"][0]["status"] == "deprecated"
    assert client.delete(f"/api/v1/providers/{pid}").status_code == 204
    assert client.get(f"/api/v1/models/{body['id']}").status_code == 404        # cascaded


def _accounted_execution(stack, client):
    """An execution whose step made two model calls (the second answered with a structured output),
    accounted and recorded as the engine does."""
    execution_id = stack.start(client)
    engine = stack.engine
    with engine.sessions.begin() as s:
        step = s.scalars(select(ExecutionStep).where(ExecutionStep.execution_id == uuid.UUID(execution_id))).first()
        schema = {"type": "object"}
        calls = [
            CallRecord("llm", "acme/m2", "error", {"messages": []}, None, None, None, 3, "acme/m2 answered 500",
                       {"provider": "acme", "model_id": "m2"}),
            CallRecord("llm", "acme/m1", "ok", {"messages": []}, {"text": "{}"},
                       {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}, 0.25, 12, None,
                       {"provider": "acme", "model_id": "m1", "structured": {"valid": True, "errors": [], "data": {}}}),
        ]
        ctx = NodeContext(execution_id, step.node_id, 1, {"output_schema": schema}, {}, calls=calls)
        account(s, engine.keyring, ctx, None)
        for seq, call in enumerate(calls):
            s.add(StepCall(execution_id=step.execution_id, step_id=step.id, node_id=step.node_id, attempt=1, turn=0,
                           seq=seq, kind=call.kind, target=call.target, status=call.status, request=call.request,
                           response=call.response, usage=call.usage, cost=call.cost, latency_ms=call.latency_ms,
                           error=call.error, meta=call.meta))
    return execution_id, step.node_id


def test_calls_structured_outputs_and_usage(stack, client, other):
    execution_id, node_id = _accounted_execution(stack, client)
    calls = client.get(f"/api/v1/executions/{execution_id}/calls").json
    assert {(c["target"], c["status"], c["cost"], c["error"]) for c in calls["items"]} == \
        {("acme/m1", "ok", 0.25, None), ("acme/m2", "error", None, "acme/m2 answered 500")}
    assert other.get(f"/api/v1/executions/{execution_id}/calls").status_code == 404
    [structured] = client.get(f"/api/v1/executions/{execution_id}/structured-outputs").json["items"]
    assert (structured["node_id"], structured["schema_valid"], structured["structured_data"]) == (node_id, True, {})

    by_model = client.get("/api/v1/usage?group_by=model").json["items"]
    assert [(u["provider"], u["model"], u["requests"], u["total_tokens"], u["cost"]) for u in by_model] == \
        [("acme", "m1", 1, 15, 0.25), ("acme", "m2", 1, 0, None)]
    [by_day] = client.get("/api/v1/usage").json["items"]
    assert (by_day["requests"], by_day["prompt_tokens"], by_day["completion_tokens"], by_day["cost"]) == \
        (2, 10, 5, 0.25)
    [by_workflow] = client.get("/api/v1/usage?group_by=workflow").json["items"]
    assert by_workflow["workflow_name"] == "chain"
    by_day_and_model = client.get("/api/v1/usage?group_by=day_model").json["items"]
    assert [(u["day"], u["provider"], u["model"], u["requests"], u["cost"]) for u in by_day_and_model] == \
        [(by_day["day"], "acme", "m1", 1, 0.25), (by_day["day"], "acme", "m2", 1, None)]
    [only_m2] = client.get("/api/v1/usage?group_by=model&model=m2").json["items"]
    assert (only_m2["model"], only_m2["requests"]) == ("m2", 1)
    assert client.get("/api/v1/usage?provider=acme").json["items"][0]["requests"] == 2
    assert client.get("/api/v1/usage?provider=backup").json["items"] == []
    assert client.get("/api/v1/usage?from=2020-01-01&to=2020-01-31").json == {"items": [], "next_cursor": None}
    assert other.get("/api/v1/usage").json["items"] == []
    assert client.get("/api/v1/usage?from=2020-02-01&to=2020-01-01").status_code == 422
    assert client.get("/api/v1/usage?to=0001-01-01").json["errors"] == {"to": ["too early"]}     # no 30 days end there
    assert client.get("/api/v1/usage?group_by=hour").status_code == 422
    execution = client.get(f"/api/v1/executions/{execution_id}").json
    assert execution["id"] == execution_id


@pytest.mark.parametrize("path", ["/api/v1/providers", "/api/v1/usage"])
def test_resources_need_a_key(anonymous, path):
    assert anonymous.get(path).status_code == 401
