"""/secrets: per owner, values sealed at rest and never returned."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from examples import llm_server as llm
from orchestrator.db import Base, Secret
from orchestrator.secrets import MASK, redact_values, secret_names, secret_values
from tests.conftest import make_settings
from tests.support.api import BOOTSTRAP_KEY, api_stack
from tests.support.httpserver import LocalHTTPServer

VALUE = "tok-9f8e7d6c5b4a"


def test_set_list_replace_delete(stack, client):
    created = client.post("/api/v1/secrets", json={"name": "GITHUB_TOKEN", "value": VALUE})
    assert created.status_code == 201 and set(created.json) == {"name", "created_at", "updated_at"}
    replaced = client.post("/api/v1/secrets", json={"name": "GITHUB_TOKEN", "value": "other-value"})
    assert replaced.status_code == 200
    listed = client.get("/api/v1/secrets")
    assert [s["name"] for s in listed.json["items"]] == ["GITHUB_TOKEN"]
    assert VALUE not in listed.get_data(as_text=True) and "other-value" not in listed.get_data(as_text=True)
    with stack.engine.sessions() as session:
        owner_id = session.scalar(select(Secret.owner_id))
        assert secret_values(session, stack.engine.keyring, owner_id, ["GITHUB_TOKEN", "NOPE"]) == {
            "GITHUB_TOKEN": "other-value"}
        assert secret_values(session, stack.engine.keyring, owner_id, []) == {}
    assert client.delete("/api/v1/secrets/GITHUB_TOKEN").status_code == 204
    assert client.delete("/api/v1/secrets/GITHUB_TOKEN").status_code == 404
    assert client.get("/api/v1/secrets").json["items"] == []


def test_values_are_sealed_at_rest(stack, client):
    client.post("/api/v1/secrets", json={"name": "K", "value": VALUE})
    with stack.engine.sessions() as session:
        row = session.scalar(select(Secret))
        assert VALUE.encode() not in row.value_encrypted and len(row.value_iv) == 12
        assert row.key_id == stack.engine.keyring.primary_key_id


def test_secrets_are_per_owner(stack, client, other):
    client.post("/api/v1/secrets", json={"name": "K", "value": VALUE})
    assert other.get("/api/v1/secrets").json["items"] == []
    assert other.delete("/api/v1/secrets/K").status_code == 404
    assert other.post("/api/v1/secrets", json={"name": "K", "value": "theirs"}).status_code == 201
    with stack.engine.sessions() as session:
        values = {str(row.owner_id): secret_values(session, stack.engine.keyring, row.owner_id, ["K"])["K"]
                  for row in session.scalars(select(Secret))}
    assert sorted(values.values()) == sorted([VALUE, "theirs"])


def test_bad_names_and_values_are_422(client, anonymous):
    for body, field in (({"name": "1abc", "value": "x"}, "name"), ({"name": "a-b", "value": "x"}, "name"),
                        ({"name": "A", "value": ""}, "value"), ({"name": "A"}, "value"),
                        ({"name": "A", "value": "x" * 70000}, "value")):
        response = client.post("/api/v1/secrets", json=body)
        assert response.status_code == 422 and field in response.json["errors"], (body, response.json)
    assert anonymous.get("/api/v1/secrets").status_code == 401


def test_redact_values_masks_every_occurrence_in_any_json():
    secrets = {"A": "abc123", "B": "abc123-longer"}
    data = {"headers": {"Authorization": "Bearer abc123-longer"}, "list": ["x abc123 y", 5, None],
            "abc123": True}
    assert redact_values(data, secrets) == {"headers": {"Authorization": f"Bearer {MASK}"},
                                            "list": [f"x {MASK} y", 5, None], MASK: True}
    assert redact_values("no secret here", secrets) == "no secret here"
    assert redact_values("abc123", {}) == "abc123"


def test_the_secrets_a_config_names():
    config = {"headers": {"Authorization": "Bearer {{ secrets.API_TOKEN }}"}, "url": "{{ secrets['BASE'] }}/x",
              "body": "{{ input.secrets.NOT_ONE }} {{ nodes.a.output }}"}
    assert secret_names(config) == {"API_TOKEN", "BASE"}


MODEL_SECRET = "tok-model-3c9e5a7b1d"


@pytest.fixture
def model_stack(tmp_path, llm_server):
    """The API over an inline engine that may call the offline model server and a local service."""
    started = api_stack(make_settings(tmp_path, ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY,
                                      ORCHESTRATOR_LLM_ALLOW_PRIVATE="1", ORCHESTRATOR_HTTP_ALLOW_PRIVATE="1",
                                      ORCHESTRATOR_LLM_RETRY_BACKOFF_SECONDS="0.01"))
    service = LocalHTTPServer()
    yield started, started.client(), service
    service.close()
    started.close()


def _provider(client, server_url):
    pid = client.post("/api/v1/providers", json={"name": "acme", "type": "openai"}).json["id"]
    assert client.post(f"/api/v1/providers/{pid}/endpoints",
                       json={"name": "main", "base_url": f"{server_url}/v1"}).status_code == 201
    assert client.post(f"/api/v1/providers/{pid}/credentials",
                       json={"alias": "main", "api_key": "sk-acme-key-0123456789abcdef"}).status_code == 201
    for model in ("m1", "m2"):
        assert client.post(f"/api/v1/providers/{pid}/models", json={"model_id": model}).status_code == 201


def test_a_secret_in_prompts_is_masked_in_every_record_of_a_run(model_stack, llm_server):
    """A secret rendered into an llm node's prompt (its first call failing with an error that
    quotes it, its answer streamed with the secret across two chunks, and structured), an agent's prompt (the model passes it to a
    tool that needs approval) and a team's task: the model and the tool get it; no row of any
    table and no answer of the API holds it."""
    stack, client, service = model_stack
    _provider(client, llm_server.url)
    assert client.post("/api/v1/secrets", json={"name": "API_TOKEN", "value": MODEL_SECRET}).status_code == 201
    assert client.post("/api/v1/tools", json={
        "name": "lookup", "description": "Looks an item up", "requires_approval": True,
        "input_schema": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
        "config": {"kind": "http", "method": "GET", "url": f"{service.url}/items/{{{{ arguments.id }}}}"}},
    ).status_code == 201
    definition = {"name": "secret-prompts", "nodes": [
        {"id": "ask", "type": "llm", "config": {
            "model": "acme/m1", "stream": True, "prompt": "Token {{ secrets.API_TOKEN }} expires soon",
            "output_schema": {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}}},
        {"id": "research", "type": "agent", "config": {
            "agent": {"model": "acme/m2", "instructions": "Use your tools.", "tools": ["lookup"]},
            "prompt": "Look up item {{ secrets.API_TOKEN }}"}},
        {"id": "crew", "type": "team", "config": {
            "team": {"type": "sequential", "members": [{"name": "writer", "agent": {"model": "acme/m1"}}]},
            "task": "Write about {{ secrets.API_TOKEN }}"}}],
        "edges": [{"source": "ask", "target": "research"}, {"source": "research", "target": "crew"}]}
    split = ['{"title": "', MODEL_SECRET[:7], MODEL_SECRET[7:] + '"}']     # the secret across two deltas
    llm_server.script(llm.error(503, f"overloaded while reading {MODEL_SECRET}", model="m1"),
                      llm.stream(split, interval=0.25, model="m1"),
                      llm.tool_call("lookup", {"id": MODEL_SECRET}, model="m2"))
    workflow = client.post("/api/v1/workflows", json={"definition": definition}).json
    execution_id = client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={"input": {}}).json["id"]
    stack.run()
    [approval] = client.get("/api/v1/approvals?status=pending").json["items"]
    assert client.post(f"/api/v1/approvals/{approval['id']}/approve").status_code == 200
    stack.run()

    execution = client.get(f"/api/v1/executions/{execution_id}").json
    assert execution["status"] == "completed", execution["error"]
    assert service.hits[f"/items/{MODEL_SECRET}"] == 1                            # it was used
    assert sum(MODEL_SECRET in json.dumps(r.body) for r in llm_server.requests) >= 4
    answers = {path: client.get(f"/api/v1/executions/{execution_id}{path}").get_data(as_text=True)
               for path in ("", "/steps", "/events?limit=200", "/calls", "/messages", "/structured-outputs",
                            "/contexts")}
    answers["/approvals"] = client.get("/api/v1/approvals?status=all").get_data(as_text=True)
    for path, answer in answers.items():
        assert MODEL_SECRET not in answer and MODEL_SECRET[7:] not in answer, (path, answer)
    assert MASK in answers["/calls"] and MASK in answers["/messages"] and MASK in answers["/events?limit=200"]
    with stack.engine.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                for value in row:
                    text = value.decode("latin-1") if isinstance(value, bytes) else json.dumps(value, default=str)
                    assert MODEL_SECRET not in text, f"{table.name}: {row}"
