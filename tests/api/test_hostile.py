"""Hostile definitions and inputs, one per defect an outside attack found: each answers a 4xx
that names the problem, quickly, and never reaches beyond the API process."""
from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from sqlalchemy import text

from tests.support.api import submit
from tests.support.httpserver import LocalHTTPServer


def _definition(**top):
    return {"name": "hostile", "nodes": [{"id": "a", "type": "noop"}], **top}


def _create(client, **top):
    return client.post("/api/v1/workflows", json={"definition": _definition(**top)})


@pytest.fixture
def http_server():
    server = LocalHTTPServer()
    yield server
    server.close()


@pytest.mark.parametrize("where", ["/internal/schema.json", "file:///etc/passwd", "file:///etc/",
                                   "http://169.254.169.254/latest/meta-data"])
def test_a_remote_ref_in_the_input_schema_is_refused_and_never_fetched(client, http_server, where):
    ref = http_server.url + where if where.startswith("/") else where
    response = _create(client, input_schema={"$ref": ref})
    assert response.status_code == 422
    assert response.json["errors"]["definition"] == [
        f"input_schema.$ref: only references inside the schema ('#...') are allowed, not {ref!r}"]
    assert http_server.hits == {}


def test_a_ref_that_points_nowhere_in_the_schema_is_refused(client):
    response = _create(client, input_schema={"properties": {"a": {"$ref": "#/$defs/missing"}}})
    assert response.status_code == 422
    assert response.json["errors"]["definition"] == [
        "input_schema.properties.a.$ref: '#/$defs/missing' does not point into the schema"]


def test_a_recursive_ref_with_deeply_nested_input_is_422(client):
    created = _create(client, input_schema={"type": "object", "properties": {"a": {"$ref": "#"}}}).json
    assert submit(client, created["id"], {"a": {"a": {}}}).status_code == 202
    for depth in (400, 3000):
        response = client.post(f"/api/v1/workflows/{created['id']}/executions", content_type="application/json",
                               data='{"input": ' + '{"a": ' * depth + "{}" + "}" * (depth + 1))
        assert response.status_code in (400, 422), response.json


def test_a_backtracking_pattern_runs_in_linear_time(client):
    created = _create(client, input_schema={"type": "object", "properties": {
        "s": {"type": "string", "pattern": "^(a+)+$"}}}).json
    started = time.monotonic()
    response = submit(client, created["id"], {"s": "a" * 100_000 + "!"})
    assert response.status_code == 422
    assert time.monotonic() - started < 1.0
    assert submit(client, created["id"], {"s": "a" * 30}).status_code == 202


def test_a_pattern_that_needs_backtracking_is_refused_when_saved(client):
    response = _create(client, input_schema={"type": "string", "pattern": "^(a)\\1$"})
    assert response.status_code == 422
    assert "not supported" in response.json["errors"]["definition"][0]


@pytest.mark.parametrize("zone", ["America", "Etc", "__pycache__", "zoneinfo", "../../etc/passwd"])
def test_a_time_zone_that_is_not_a_zone_name_is_422(client, workflow, zone):
    response = client.post(f"/api/v1/workflows/{workflow['id']}/schedules",
                           json={"cron_expression": "0 * * * *", "timezone": zone})
    assert response.status_code == 422
    assert response.json["errors"]["timezone"] == [
        f"unknown time zone {zone!r}: use an IANA name such as 'Europe/Paris' or 'UTC'"]


def test_a_random_cron_field_is_refused_and_a_stored_one_does_not_break_the_list(stack, client, workflow):
    response = client.post(f"/api/v1/workflows/{workflow['id']}/schedules", json={"cron_expression": "R R * * *"})
    assert response.status_code == 422
    assert "cron_expression" in response.json["errors"]
    created = client.post(f"/api/v1/workflows/{workflow['id']}/schedules", json={"cron_expression": "0 * * * *"}).json
    with stack.engine.sessions.begin() as session:        # stored before the check existed
        session.execute(text("UPDATE scheduled_workflows SET cron_expression = 'R R * * *' WHERE id = :id"),
                        {"id": uuid.UUID(created["id"]).hex})
    listed = client.get("/api/v1/schedules")
    assert listed.status_code == 200
    assert listed.json["items"][0]["description"] == "R R * * * (UTC)"
    assert client.get(f"/api/v1/schedules/{created['id']}").status_code == 200


@pytest.mark.parametrize("start_at", ["9999-12-31T23:59:00Z", "9999-12-31T23:59:59-23:59"])
def test_a_start_at_without_any_slot_before_year_9999_is_422(client, workflow, start_at):
    response = client.post(f"/api/v1/workflows/{workflow['id']}/schedules",
                           json={"cron_expression": "0 0 1 1 *", "start_at": start_at})
    assert response.status_code == 422, response.json
    assert "start_at" in response.json["errors"]


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
@pytest.mark.parametrize("resource", ["workflows", "executions", "schedules", "approvals"])
def test_a_cursor_with_an_extreme_timestamp_is_422(client, resource, moment):
    cursor = base64.urlsafe_b64encode(json.dumps([moment, str(uuid.uuid4())]).encode()).decode().rstrip("=")
    response = client.get(f"/api/v1/{resource}", query_string={"cursor": cursor})
    assert response.status_code == 422
    assert response.json["errors"] == {"cursor": ["not a cursor that this API returned"]}


@pytest.mark.parametrize("definition", [
    {"nodes": [{"id": "a", "type": "transform", "config": {"output": "{{ " + "(" * 300 + "1" + ")" * 300 + " }}"}}]},
    {"nodes": [{"id": "a", "type": "noop"}, {"id": "b", "type": "noop"}],
     "edges": [{"source": "a", "target": "b", "condition": "[" * 250 + "]" * 250}]},
    {"nodes": [{"id": "a", "type": "noop"}], "output": "{% if 1 %}" * 200 + "{% endif %}" * 200},
])
def test_templates_and_conditions_nested_hundreds_deep_are_422(client, definition):
    response = client.post("/api/v1/workflows", json={"definition": {"name": "deep", **definition}})
    assert response.status_code == 422
    assert "nested too deeply" in response.json["errors"]["definition"][0]


def test_secrets_are_not_stored_in_plaintext_in_step_inputs_or_the_structure_tables(stack, client):
    secrets = ["hunter2", "sig-4f2a", "PASS123", "K3Y-val", "s3cr3t", "sec-val", "Node Name Secret", "input.tier"]
    definition = {"name": "secrets", "nodes": [
        {"id": "call", "type": "http_request", "name": "Node Name Secret", "on_error": "continue", "config": {
            "method": "POST", "url": "http://user:PASS123@127.0.0.1:9/x?api_key=K3Y-val",
            "headers": {"Authentication": "hunter2", "X-Signature": "sig-4f2a", "Content-Type": "text/plain"},
            "body": "user=a&pass=s3cr3t"}},
        {"id": "post", "type": "http_request", "on_error": "continue", "config": {
            "method": "POST", "url": "http://127.0.0.1:9/token", "json": {"client_credentials": "id:sec-val"}}},
        {"id": "end", "type": "noop"}],
        "edges": [{"source": "post", "target": "end", "condition": "input.tier == 'gold'"}]}
    workflow = client.post("/api/v1/workflows", json={"definition": definition}).json
    execution_id = submit(client, workflow["id"], {"tier": "gold"}).json["id"]
    stack.run()
    steps = {s["node_id"]: s for s in client.get(f"/api/v1/executions/{execution_id}/steps").json["items"]}
    assert steps["call"]["input"]["headers"]["Content-Type"] == "text/plain"
    assert steps["post"]["input"]["json"] == {"client_credentials": "***"}
    with stack.engine.sessions() as session:
        stored = json.dumps([list(row) for row in session.execute(text(
            "SELECT input, output FROM execution_steps UNION ALL SELECT name, type FROM nodes "
            "UNION ALL SELECT condition, source_node_id FROM edges"))], default=str)
    assert [secret for secret in secrets if secret in stored] == []
    assert client.get(f"/api/v1/workflows/{workflow['id']}").json["definition"]["nodes"][0]["name"] == "Node Name Secret"


@pytest.mark.parametrize("template, reason", [
    ("{{ '\\x00' }}", "$.output has a NUL character (\\u0000)"),
    ("{{ [1e308 * 10] }}", "$.output[0] is inf, which JSON cannot hold"),
    ("{{ 10 ** 5000 }}", "$.output is an integer of more than 300 digits"),
])
def test_a_value_the_database_cannot_store_fails_the_step_once(stack, client, template, reason):
    definition = {"name": "unstorable", "nodes": [{"id": "t", "type": "transform", "config": {"output": template}}]}
    workflow = client.post("/api/v1/workflows", json={"definition": definition}).json
    execution_id = submit(client, workflow["id"]).json["id"]
    stack.run()
    execution = client.get(f"/api/v1/executions/{execution_id}").json
    assert execution["status"] == "failed"
    [step] = client.get(f"/api/v1/executions/{execution_id}/steps").json["items"]
    assert (step["status"], step["attempt"]) == ("failed", 1)
    assert reason in step["error"]


@pytest.mark.parametrize("node, error", [
    ({"default_output": {"x": "\x00"}}, "node 'a' default_output: $.x has a NUL character (\\u0000)"),
    ({"retry": {"max_attempts": 3, "backoff_seconds": 1e300}},
     "node 'a' retry.backoff_seconds: Must be greater than or equal to 0 and less than or equal to 315360000."),
    ({"timeout_seconds": 1e300}, "node 'a' timeout_seconds: Must be greater than 0 and less than or equal to 315360000."),
])
def test_numbers_and_defaults_that_could_not_be_used_are_refused_with_the_definition(client, node, error):
    response = client.post("/api/v1/workflows", json={"definition": {
        "name": "bad", "nodes": [{"id": "a", "type": "noop", "on_error": "default", **node}]}})
    assert response.status_code == 422
    assert response.json["errors"]["definition"] == [error]


def test_a_definition_timeout_of_10_to_the_12_is_refused_where_it_was_a_500_on_submit(client):
    response = _create(client, timeout_seconds=10**12)
    assert response.status_code == 422
    assert response.json["errors"]["definition"] == [
        "timeout_seconds: Must be greater than or equal to 1 and less than or equal to 315360000."]


def test_a_large_definition_is_refused_before_it_costs_anything(client):
    started = time.monotonic()
    response = _create(client, output="{{x}}" * 170_000)
    assert response.status_code == 422
    assert response.json["errors"]["definition"] == [
        "the definition holds 850000 characters of templates and conditions; the limit is 100000"]
    chain = [{"id": f"n{i}", "type": "noop"} for i in range(10_000)]
    response = client.post("/api/v1/workflows", json={"definition": {"name": "chain", "nodes": chain}})
    assert response.status_code == 422
    assert response.json["errors"]["definition"] == ["nodes: must list at most 1000 nodes"]
    assert time.monotonic() - started < 2


def test_a_cpu_heavy_template_fails_its_step_after_the_render_budget(stack, client):
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    definition = {"name": "busy", "nodes": [{"id": "t", "type": "transform", "timeout_seconds": 2,
                                             "config": {"output": loops}}]}
    workflow = client.post("/api/v1/workflows", json={"definition": definition}).json
    execution_id = submit(client, workflow["id"]).json["id"]
    started = time.monotonic()
    stack.run()
    assert time.monotonic() - started < 10
    [step] = client.get(f"/api/v1/executions/{execution_id}/steps").json["items"]
    assert step["status"] == "failed"
    # Rendering counts toward the attempt's 2 s: whichever of the two clocks stops it first.
    assert step["error"] == "timed out after 2s" or "over the render budget: it took longer than 2 s" in step["error"]
