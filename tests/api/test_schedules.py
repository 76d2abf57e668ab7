"""/api/v1/schedules and /api/v1/workflows/{id}/schedules: create, list, get, change, pause,
resume, delete; validation messages; ownership."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from orchestrator.schedules.firing import fire_due
from tests.support.api import new_workflow

SCHEDULE_FIELDS = {
    "id", "workflow_id", "name", "cron_expression", "timezone", "description", "status", "paused_reason", "input",
    "start_at", "end_at", "misfire_policy", "max_retries", "consecutive_failures", "next_run_at",
    "last_execution_at", "last_execution_status", "last_error_message", "created_at", "updated_at",
}


def create(client, workflow_id, **body):
    response = client.post(f"/api/v1/workflows/{workflow_id}/schedules",
                           json={"cron_expression": "30 1 * * *", **body})
    assert response.status_code == 201, response.json
    return response.json


def when(text):
    return datetime.fromisoformat(text)


def test_create_answers_201_with_the_next_run_and_a_description(client, workflow):
    body = create(client, workflow["id"], name="nightly", timezone="America/New_York", input={"n": 3})
    assert set(body) == SCHEDULE_FIELDS
    assert (body["workflow_id"], body["name"], body["status"], body["input"]) == (workflow["id"], "nightly", "active",
                                                                                  {"n": 3})
    assert body["description"] == "At 01:30 (America/New_York)"
    assert (body["misfire_policy"], body["max_retries"], body["consecutive_failures"]) == ("run_once", 3, 0)
    next_run = when(body["next_run_at"])
    assert next_run > datetime.now(timezone.utc) and next_run.minute == 30
    assert next_run.hour in (5, 6)                              # 01:30 in New York, EDT or EST


def test_defaults_are_utc_and_an_empty_input(client, workflow):
    body = create(client, workflow["id"], cron_expression="*/5 * * * * *")
    assert (body["timezone"], body["input"], body["name"], body["description"]) == ("UTC", {}, None,
                                                                                    "Every 5 seconds (UTC)")


@pytest.mark.parametrize("field, value, message", [
    ("cron_expression", "61 * * * *", "invalid cron expression '61 * * * *': minute field '61' is not valid"),
    ("cron_expression", "0 0 30 2 *", "invalid cron expression '0 0 30 2 *': it matches no date"),
    ("timezone", "Mars/Olympus", "unknown time zone 'Mars/Olympus': use an IANA name such as 'Europe/Paris' or 'UTC'"),
])
def test_an_invalid_expression_or_time_zone_is_422_naming_it(client, workflow, field, value, message):
    response = client.post(f"/api/v1/workflows/{workflow['id']}/schedules",
                           json={"cron_expression": "30 1 * * *", field: value})
    assert response.status_code == 422
    assert response.json["errors"] == {field: [message]}
    assert response.json["message"] == f"{field}: {message}"


def test_a_window_that_ends_before_it_starts_and_input_that_fails_the_schema_are_422(client):
    workflow_id = new_workflow(client, "fails")
    response = client.post(f"/api/v1/workflows/{workflow_id}/schedules", json={
        "cron_expression": "0 * * * *", "input": {"n": "x"},
        "start_at": "2030-01-02T00:00:00Z", "end_at": "2030-01-01T00:00:00Z"})
    assert response.status_code == 422
    assert response.json["errors"] == {"end_at": ["must be later than start_at"],
                                       "input": ["$.n: 'x' is not of type 'integer'"]}


def test_a_body_that_fails_its_schema_is_422_by_field(client, workflow):
    response = client.post(f"/api/v1/workflows/{workflow['id']}/schedules", json={
        "misfire_policy": "sometimes", "max_retries": -1, "start_at": "soon", "extra": 1})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"cron_expression", "misfire_policy", "max_retries", "start_at", "extra"}


def test_the_window_bounds_next_run_at_and_a_time_without_offset_is_utc(client, workflow):
    body = create(client, workflow["id"], cron_expression="0 12 * * *", start_at="2030-06-01T12:00:00",
                  end_at="2030-06-30T12:00:00+00:00")
    assert when(body["start_at"]) == when(body["next_run_at"]) == datetime(2030, 6, 1, 12, tzinfo=timezone.utc)
    changed = client.patch(f"/api/v1/schedules/{body['id']}", json={"end_at": "2020-01-01T00:00:00Z",
                                                                  "start_at": None}).json
    assert changed["next_run_at"] is None                        # the window has closed


def test_patch_changes_the_timing_from_now_and_keeps_the_rest(client, workflow):
    body = create(client, workflow["id"], name="n", input={"n": 1})
    changed = client.patch(f"/api/v1/schedules/{body['id']}", json={"cron_expression": "0 9 * * MON-FRI",
                                                                  "timezone": "Europe/Paris"}).json
    assert changed["description"] == "At 09:00, Monday through Friday (Europe/Paris)"
    assert changed["next_run_at"] != body["next_run_at"] and when(changed["next_run_at"]).minute == 0
    assert (changed["name"], changed["input"]) == ("n", {"n": 1})
    bad = client.patch(f"/api/v1/schedules/{body['id']}", json={"cron_expression": "* * *"})
    assert bad.status_code == 422 and list(bad.json["errors"]) == ["cron_expression"]
    assert client.get(f"/api/v1/schedules/{body['id']}").json["cron_expression"] == "0 9 * * MON-FRI"


def test_pause_and_resume(client, workflow):
    body = create(client, workflow["id"])
    paused = client.post(f"/api/v1/schedules/{body['id']}/pause").json
    assert (paused["status"], paused["paused_reason"], paused["next_run_at"]) == ("paused", "paused by its owner", None)
    assert client.post(f"/api/v1/schedules/{body['id']}/pause").json["status"] == "paused"
    resumed = client.post(f"/api/v1/schedules/{body['id']}/resume").json
    assert (resumed["status"], resumed["paused_reason"], resumed["next_run_at"]) == ("active", None,
                                                                                      body["next_run_at"])


def test_list_pages_and_filters(client, workflow):
    other_workflow = new_workflow(client)
    ids = [create(client, workflow["id"])["id"] for _ in range(3)]
    last = create(client, other_workflow)["id"]
    client.post(f"/api/v1/schedules/{ids[0]}/pause")
    page = client.get("/api/v1/schedules", query_string={"limit": 2}).json
    assert [s["id"] for s in page["items"]] == [last, ids[2]] and page["next_cursor"]
    rest = client.get("/api/v1/schedules", query_string={"cursor": page["next_cursor"]}).json
    assert [s["id"] for s in rest["items"]] == [ids[1], ids[0]] and rest["next_cursor"] is None
    assert [s["id"] for s in client.get(f"/api/v1/schedules?workflow_id={other_workflow}").json["items"]] == [last]
    assert [s["id"] for s in client.get("/api/v1/schedules?status=paused").json["items"]] == [ids[0]]


def test_a_fired_run_shows_its_outcome(stack, client, workflow):
    body = create(client, workflow["id"], input={"n": 2})
    fire_due(stack.engine, when(body["next_run_at"]))
    stack.run()
    shown = client.get(f"/api/v1/schedules/{body['id']}").json
    assert (shown["last_execution_status"], shown["last_error_message"], shown["consecutive_failures"]) == (
        "completed", None, 0)
    [execution] = client.get(f"/api/v1/executions?workflow_id={workflow['id']}").json["items"]
    assert (execution["trigger"], execution["input"], execution["output"]) == ("schedule", {"n": 2}, {"result": 30})


def test_trigger_runs_the_workflow_once_now_also_while_paused_and_is_audited(stack, client, workflow):
    body = create(client, workflow["id"], input={"n": 4})
    client.post(f"/api/v1/schedules/{body['id']}/pause")
    response = client.post(f"/api/v1/schedules/{body['id']}/trigger")
    assert response.status_code == 202 and response.json["status"] == "pending"
    stack.run()
    execution = client.get(f"/api/v1/executions/{response.json['id']}").json
    assert (execution["trigger"], execution["input"], execution["output"]) == ("schedule", {"n": 4}, {"result": 50})
    shown = client.get(f"/api/v1/schedules/{body['id']}").json
    assert (shown["status"], shown["next_run_at"], shown["last_execution_status"]) == ("paused", None, "completed")
    [entry] = [e for e in client.get("/api/v1/audit-logs").json["items"] if e["action"] == "schedule.trigger"]
    assert (entry["object_id"], entry["payload"]) == (body["id"], {"execution_id": execution["id"]})


def test_trigger_answers_422_when_the_input_no_longer_fits_and_409_once_archived(client):
    workflow = new_workflow(client, "fails")                       # input_schema: n, an integer, required
    body = create(client, workflow, input={"n": 1})
    client.put(f"/api/v1/workflows/{workflow}", json={"definition": {
        "name": "fails", "input_schema": {"type": "object", "required": ["m"]},
        "nodes": [{"id": "only", "type": "noop"}]}})
    client.post(f"/api/v1/workflows/{workflow}/publish")
    refused = client.post(f"/api/v1/schedules/{body['id']}/trigger")
    assert refused.status_code == 422 and refused.json["errors"] == {"input": ["$: 'm' is a required property"]}
    client.delete(f"/api/v1/workflows/{workflow}")
    assert client.post(f"/api/v1/schedules/{body['id']}/trigger").status_code == 409


def test_delete_answers_204_and_keeps_the_executions(stack, client, workflow):
    body = create(client, workflow["id"])
    fire_due(stack.engine, when(body["next_run_at"]) + timedelta(seconds=1))
    response = client.delete(f"/api/v1/schedules/{body['id']}")
    assert response.status_code == 204 and response.data == b""
    assert client.get(f"/api/v1/schedules/{body['id']}").status_code == 404
    assert len(client.get(f"/api/v1/executions?workflow_id={workflow['id']}").json["items"]) == 1


def test_an_archived_workflow_takes_no_schedule(client, workflow):
    client.delete(f"/api/v1/workflows/{workflow['id']}")
    response = client.post(f"/api/v1/workflows/{workflow['id']}/schedules", json={"cron_expression": "* * * * *"})
    assert response.status_code == 409 and response.json["message"] == f"workflow {workflow['id']} is archived"


def test_another_owners_schedule_is_404_everywhere(client, other, workflow):
    schedule_id = create(client, workflow["id"])["id"]
    url = f"/api/v1/schedules/{schedule_id}"
    assert other.get(url).status_code == 404
    assert other.patch(url, json={"name": "mine"}).status_code == 404
    assert other.delete(url).status_code == 404
    assert other.post(f"{url}/pause").status_code == 404
    assert other.post(f"{url}/resume").status_code == 404
    assert other.post(f"{url}/trigger").status_code == 404
    assert other.post(f"/api/v1/workflows/{workflow['id']}/schedules",
                      json={"cron_expression": "* * * * *"}).status_code == 404
    assert other.get("/api/v1/schedules").json["items"] == []
    assert client.get(url).json["name"] is None


def test_an_unknown_schedule_is_404(client):
    response = client.get(f"/api/v1/schedules/{uuid.uuid4()}")
    assert response.status_code == 404 and response.json["message"].startswith("schedule ")
