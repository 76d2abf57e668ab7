"""/api/v1/executions: submit with idempotency, list, get, steps, events (JSON and SSE), control."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

import pytest

from tests.conftest import make_settings
from tests.support.httpserver import LocalHTTPServer
from tests.support.api import BOOTSTRAP_KEY, api_stack, new_workflow, server_sent_events, submit, workflow_fixture

EXECUTION_FIELDS = {"id", "workflow_id", "version", "status", "trigger", "input", "output", "error",
                    "created_at", "started_at", "completed_at", "duration_ms", "parent_execution_id", "total_tokens",
                    "total_cost"}
STEP_FIELDS = {"node_id", "node_type", "status", "attempt", "turn", "input", "output", "error", "error_traceback",
               "queued_at", "started_at", "completed_at", "duration_ms"}
EVENT_FIELDS = {"seq", "event_type", "node_id", "attempt", "message", "data", "created_at"}


def sse(body: bytes) -> list[dict]:
    return list(server_sent_events(body.decode().split("\n")))


def test_submit_answers_202_and_the_execution_runs(stack, client, workflow):
    response = submit(client, workflow["id"], {"n": 2})
    assert response.status_code == 202
    assert response.json == {"id": response.json["id"], "status": "pending"}
    stack.run()
    body = client.get(f"/api/v1/executions/{response.json['id']}").json
    assert set(body) == EXECUTION_FIELDS
    assert (body["status"], body["output"], body["error"]) == ("completed", {"result": 30}, None)
    assert body["trigger"] == "api"
    assert (body["workflow_id"], body["version"], body["input"]) == (workflow["id"], 1, {"n": 2})
    assert body["duration_ms"] >= 0
    assert all(datetime.fromisoformat(body[f]).tzinfo is not None for f in ("created_at", "started_at", "completed_at"))


def test_submit_runs_the_published_version_unless_one_is_named(client, workflow):
    wid = workflow["id"]
    client.put(f"/api/v1/workflows/{wid}", json={"definition": workflow_fixture("chain")})
    assert client.get(f"/api/v1/executions/{submit(client, wid, {'n': 1}).json['id']}").json["version"] == 1
    named = submit(client, wid, {"n": 1}, version=2).json["id"]
    assert client.get(f"/api/v1/executions/{named}").json["version"] == 2
    response = submit(client, wid, {"n": 1}, version=7)
    assert response.status_code == 404 and response.json["message"] == f"workflow {wid} has no version 7"


def test_the_same_idempotency_key_and_body_return_the_same_execution(client, workflow):
    first = submit(client, workflow["id"], {"n": 1}, key="order-42")
    again = submit(client, workflow["id"], {"n": 1}, key="order-42")
    assert again.status_code == 202 and again.json["id"] == first.json["id"]
    assert len(client.get("/api/v1/executions").json["items"]) == 1
    assert submit(client, workflow["id"], {"n": 1}).json["id"] != first.json["id"]


def test_the_same_idempotency_key_with_another_body_is_409(client, workflow):
    submit(client, workflow["id"], {"n": 1}, key="order-43")
    response = submit(client, workflow["id"], {"n": 2}, key="order-43")
    assert response.status_code == 409
    assert response.json == {"code": 409, "status": "Conflict", "errors": {},
                             "message": "Idempotency-Key was already used with a different request"}


def test_an_idempotency_key_is_per_owner(client, other, workflow):
    submit(client, workflow["id"], {"n": 1}, key="shared")
    mine = new_workflow(other)
    assert submit(other, mine, {"n": 1}, key="shared").status_code == 202


def test_input_that_fails_the_input_schema_is_422(client):
    wid = new_workflow(client, "fails")
    response = submit(client, wid, {"n": "two"})
    assert response.status_code == 422
    assert response.json["message"] == "input does not match the workflow's input_schema"
    assert response.json["errors"]["input"] == ["$.n: 'two' is not of type 'integer'"]
    assert submit(client, wid, {"n": 1}, version=0).json["errors"] == {
        "version": ["Must be greater than or equal to 1 and less than or equal to 2147483647."]}


@pytest.mark.parametrize("value", ["not an object", [1, 2], 3, True])
def test_an_input_that_is_not_a_json_object_is_422(client, workflow, value):
    response = submit(client, workflow["id"], value)
    assert response.status_code == 422
    assert response.json["errors"] == {"input": ["Not a valid mapping type."]}


def test_list_filters_by_workflow_and_status_and_pages(stack, client):
    chain, fails = new_workflow(client), new_workflow(client, "fails")
    ids = [submit(client, chain, {"n": i}).json["id"] for i in range(3)]
    failed = submit(client, fails, {"n": 1}).json["id"]
    stack.run()
    by_workflow = client.get(f"/api/v1/executions?workflow_id={chain}").json["items"]
    assert [e["id"] for e in by_workflow] == ids[::-1]
    assert [e["id"] for e in client.get("/api/v1/executions?status=failed").json["items"]] == [failed]
    page = client.get("/api/v1/executions?limit=3").json
    rest = client.get(f"/api/v1/executions?limit=3&cursor={page['next_cursor']}").json
    assert [e["id"] for e in page["items"] + rest["items"]] == [failed, *ids[::-1]]
    assert rest["next_cursor"] is None
    assert client.get("/api/v1/executions?status=lost").status_code == 422


@pytest.fixture(params=["sqlite", "postgresql"])
def any_stack(request, tmp_path):
    """The API on SQLite or PostgreSQL (their ids compare as text differently)."""
    url = request.getfixturevalue("servers").create_database() if request.param == "postgresql" else None
    started = api_stack(make_settings(tmp_path, url, ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY))
    yield started
    started.close()


def test_search_by_id_prefix_workflow_name_status_or_error_text(any_stack):
    client = any_stack.client()
    chain, fails = new_workflow(client), new_workflow(client, "fails")
    done = submit(client, chain, {"n": 1}).json["id"]
    failed = submit(client, fails, {"n": 1}).json["id"]
    any_stack.run()

    def found(query: str) -> list[str]:
        response = client.get("/api/v1/executions", query_string={"q": query})
        assert response.status_code == 200, response.json
        return [e["id"] for e in response.json["items"]]
    assert found(done[:6]) == [done] and found(done[:13].upper()) == [done]
    assert found(done.replace("-", "")[:10]) == [done]
    assert found("CHAI") == [done] and found("fails") == [failed]
    assert found("failed") == [failed] and found("Completed") == [done]
    assert found("MISSING") == [failed]                                      # its error names input.missing
    assert found("%") == [] and found("no such thing") == []
    assert client.get("/api/v1/executions", query_string={"q": ""}).status_code == 422


def test_a_range_of_creation_times_narrows_the_list_and_must_not_end_before_it_starts(stack, client):
    first = stack.start(client, input={"n": 1}, run=False)
    created = datetime.fromisoformat(client.get(f"/api/v1/executions/{first}").json["created_at"])
    later = stack.start(client, input={"n": 2}, run=False)

    def found(**query) -> list[str]:
        return [e["id"] for e in client.get("/api/v1/executions", query_string=query).json["items"]]
    assert found(**{"from": created.isoformat(), "to": created.isoformat()}) == [first]
    assert found(**{"from": (created + timedelta(microseconds=1)).isoformat()}) == [later]
    assert found(to=(created - timedelta(seconds=1)).isoformat()) == []
    assert found(to=created.replace(tzinfo=None).isoformat()) == [first]             # no offset: UTC
    backwards = client.get("/api/v1/executions", query_string={"from": "2030-01-02T00:00:00Z",
                                                                "to": "2030-01-01T00:00:00Z"})
    assert backwards.status_code == 422 and backwards.json["errors"] == {"to": ["is before from"]}
    assert client.get("/api/v1/executions?from=yesterday").json["errors"] == {"from": ["Not a valid datetime."]}


@pytest.fixture
def flaky(tmp_path):
    """The API that may call a local HTTP service (``/flaky`` answers 503 the first times)."""
    started = api_stack(make_settings(tmp_path, ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY,
                                      ORCHESTRATOR_HTTP_ALLOW_PRIVATE="1"))
    service = LocalHTTPServer()
    yield started, service
    service.close()
    started.close()


def test_attempts_list_each_try_of_a_step_and_the_turns_of_each(flaky):
    stack, local_http = flaky
    client = stack.client()
    definition = {"name": "retried", "nodes": [
        {"id": "fetch", "type": "http_request", "retry": {"max_attempts": 3, "backoff_seconds": 0.01},
         "config": {"url": f"{local_http.url}/flaky?key=retried&fail=2"}},
        {"id": "ask", "type": "human_approval", "config": {}}], "edges": [{"source": "fetch", "target": "ask"}]}
    workflow = client.post("/api/v1/workflows", json={"definition": definition}).json["id"]
    execution = submit(client, workflow).json["id"]
    deadline = time.monotonic() + 10
    while {s["node_id"]: s["status"] for s in client.get(f"/api/v1/executions/{execution}/steps").json["items"]}.get(
            "ask") != "waiting":
        assert time.monotonic() < deadline, "fetch never completed"
        stack.run()                                      # each retry runs once its backoff has passed
        time.sleep(0.01)
    stack.run()
    page = client.get(f"/api/v1/executions/{execution}/attempts").json
    assert page["next_cursor"] is None
    fetch = [a for a in page["items"] if a["node_id"] == "fetch"]
    assert [(a["attempt"], a["status"]) for a in fetch] == [(1, "failed"), (2, "failed"), (3, "completed")]
    assert "attempt 1 failed: HTTP 503" in fetch[0]["error"] and fetch[2]["error"] is None
    for attempt in fetch:
        assert attempt["queued_at"] <= attempt["started_at"] <= attempt["ended_at"] and attempt["duration_ms"] >= 0
        assert [t["number"] for t in attempt["turns"]] == [0]
    [ask] = [a for a in page["items"] if a["node_id"] == "ask"]
    assert (ask["status"], ask["ended_at"], ask["turns"][0]["ended_at"] is not None) == ("waiting", None, True)
    assert client.get(f"/api/v1/executions/{uuid.uuid4()}/attempts").status_code == 404


def test_attempts_of_a_lost_worker_a_parked_turn_and_a_cancelled_step():
    from orchestrator.services.attempts import attempts_of
    t = [datetime(2030, 1, 1, 0, 0, second) for second in range(10)]
    events = [("step_queued", "a", 1, None, t[0]), ("step_running", "a", 1, None, t[1]),
              ("step_queued", "a", 1, "worker lost; queued again", t[2]),           # the same attempt, again
              ("step_running", "a", 1, None, t[3]), ("step_turn", "a", 1, "parked until 00:00:06", t[4]),
              ("step_running", "a", 1, None, t[6]), ("step_completed", "a", 1, None, t[7]),
              ("step_queued", "b", 1, None, t[7]), ("step_cancelled", "b", 1, "execution cancelled", t[8])]
    a, b = attempts_of(events)
    assert (a.status, a.queued_at, a.started_at, a.ended_at, a.duration_ms, a.error) == (
        "completed", t[0], t[1], t[7], 6000, None)
    assert [(turn.number, turn.duration_ms, turn.note) for turn in a.turns] == [
        (0, 1000, "worker lost; queued again"), (1, 1000, "parked until 00:00:06"), (2, 1000, None)]
    assert (b.status, b.started_at, b.ended_at, b.turns, b.error) == ("cancelled", None, t[8], [], None)


def test_steps_have_one_row_per_node(stack, client):
    execution_id = stack.start(client, input={"n": 2})
    page = client.get(f"/api/v1/executions/{execution_id}/steps").json
    assert page["next_cursor"] is None
    assert [(s["node_id"], s["status"], s["attempt"]) for s in page["items"]] == [
        ("a", "completed", 1), ("b", "completed", 1), ("c", "completed", 1)]
    assert set(page["items"][0]) == STEP_FIELDS
    assert page["items"][2]["output"] == {"n": 30}


def test_events_after_a_seq_in_pages(stack, client):
    execution_id = stack.start(client, input={"n": 2})
    every = client.get(f"/api/v1/executions/{execution_id}/events").json["items"]
    assert set(every[0]) == EVENT_FIELDS
    assert [e["seq"] for e in every] == list(range(1, len(every) + 1))
    assert (every[0]["event_type"], every[-1]["event_type"]) == ("execution_pending", "execution_completed")
    page = client.get(f"/api/v1/executions/{execution_id}/events?after=2&limit=3").json
    assert [e["seq"] for e in page["items"]] == [3, 4, 5] and page["next_cursor"] == "5"
    assert client.get(f"/api/v1/executions/{execution_id}/events?after={len(every)}").json == {
        "items": [], "next_cursor": None}


def test_events_stream_as_server_sent_events_after_last_event_id(stack, client):
    execution_id = stack.start(client, input={"n": 2})
    url = f"/api/v1/executions/{execution_id}/events"
    response = client.get(url, headers={"Accept": "text/event-stream"})
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    events = sse(response.data)
    assert [e["id"] for e in events] == [e["data"]["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["event"] == "execution_completed" and set(events[0]["data"]) == EVENT_FIELDS
    resumed = client.get(url, headers={"Accept": "text/event-stream", "Last-Event-ID": "5"})
    assert [e["id"] for e in sse(resumed.data)] == list(range(6, len(events) + 1))


def test_the_stream_follows_a_running_execution_until_it_ends(stack, client, monkeypatch):
    monkeypatch.setattr("api.resources.executions.stream.POLL_SECONDS", 0.01)
    monkeypatch.setattr("api.resources.executions.stream.KEEPALIVE_SECONDS", 0.05)
    execution_id = stack.start(client, "wait")
    response = client.get(f"/api/v1/executions/{execution_id}/events", headers={"Accept": "text/event-stream"},
                          buffered=False)
    chunks = (c if isinstance(c, bytes) else c.encode() for c in response.response)
    received = []
    while not any(e["event"] == "step_waiting" for e in received):
        received += sse(next(chunks))
    assert next(chunks) == b": keepalive\n\n"       # nothing new for a while: a comment keeps it open
    assert client.post(f"/api/v1/executions/{execution_id}/cancel").status_code == 202
    received += sse(b"".join(chunks))                  # ends once the execution has
    assert received[-1]["event"] == "execution_cancelled"
    assert [e["id"] for e in received] == list(range(1, len(received) + 1))


def test_pause_resume_and_cancel_answer_202_or_409(stack, client):
    execution_id = stack.start(client, input={"n": 1}, run=False)
    base = f"/api/v1/executions/{execution_id}"
    assert client.post(f"{base}/pause").json == {"id": execution_id, "status": "paused"}
    response = client.post(f"{base}/pause")
    assert response.status_code == 409 and response.json["message"] == "execution is paused; it cannot become paused"
    assert client.post(f"{base}/resume").status_code == 202
    assert client.post(f"{base}/cancel").json == {"id": execution_id, "status": "cancelled"}
    for action in ("cancel", "pause", "resume", "retry"):
        response = client.post(f"{base}/{action}")
        assert response.status_code == 409 and response.json["status"] == "Conflict", action


def test_retry_runs_the_failed_steps_again_and_keeps_the_completed_ones(stack, client):
    execution_id = stack.start(client, "fails", {"n": 1})
    base = f"/api/v1/executions/{execution_id}"
    failed = client.get(base).json
    assert failed["status"] == "failed" and "broken" in failed["error"]
    assert client.post(f"{base}/retry").json == {"id": execution_id, "status": "running"}
    stack.run()
    steps = {s["node_id"]: s for s in client.get(f"{base}/steps").json["items"]}
    assert (steps["first"]["status"], steps["first"]["attempt"]) == ("completed", 1)
    assert (steps["broken"]["status"], steps["broken"]["attempt"]) == ("failed", 2)


@pytest.mark.parametrize("path", ["", "/steps", "/events"])
def test_another_owners_execution_is_404(stack, client, other, path):
    execution_id = stack.start(client, input={"n": 1})
    response = other.get(f"/api/v1/executions/{execution_id}{path}", headers={"Accept": "text/event-stream"})
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert response.json["message"] == f"execution {execution_id} not found"
    assert other.get("/api/v1/executions").json["items"] == []


@pytest.mark.parametrize("action", ["cancel", "pause", "resume", "retry"])
def test_another_owner_cannot_act_on_an_execution(stack, client, other, action):
    execution_id = stack.start(client, input={"n": 1}, run=False)
    assert other.post(f"/api/v1/executions/{execution_id}/{action}").status_code == 404
    assert client.get(f"/api/v1/executions/{execution_id}").json["status"] == "pending"


def test_an_unknown_execution_is_404(client):
    unknown = uuid.uuid4()
    assert client.get(f"/api/v1/executions/{unknown}").status_code == 404
    assert client.post(f"/api/v1/executions/{unknown}/cancel").status_code == 404


def test_children_contexts_and_messages_of_an_execution(stack, client):
    child = client.post("/api/v1/workflows", json={"definition": {"name": "child", "nodes": [
        {"id": "echo", "type": "transform", "config": {"output": "{{ input.n }}"}}]}}).json["id"]
    parent = client.post("/api/v1/workflows", json={"definition": {"name": "parent", "nodes": [
        {"id": "map", "type": "subworkflow", "config": {"workflow": "child", "for_each": "{{ [1, 2, 3] }}",
                                                        "input": {"n": "{{ item }}"}},
         "context_write": {"namespace": "totals", "value": {"outputs": "{{ output.outputs }}"}}}]}}).json["id"]
    execution_id = submit(client, parent).json["id"]
    stack.run()
    assert client.get(f"/api/v1/executions/{execution_id}").json["status"] == "completed"
    kids = client.get(f"/api/v1/executions/{execution_id}/children").json["items"]
    assert len(kids) == 3 and {k["workflow_id"] for k in kids} == {child}
    assert all(k["trigger"] == "subworkflow" and k["parent_execution_id"] == execution_id for k in kids)
    contexts = client.get(f"/api/v1/executions/{execution_id}/contexts").json
    assert contexts["items"][0]["namespace"] == "totals"
    assert contexts["items"][0]["data"] == {"outputs": [{"echo": 1}, {"echo": 2}, {"echo": 3}]}
    assert client.get(f"/api/v1/executions/{execution_id}/messages").json == {"items": [], "next_cursor": None}
    assert client.get(f"/api/v1/executions/{uuid.uuid4()}/children").status_code == 404
def test_steps_show_the_traceback_of_an_unexpected_error(stack, client, monkeypatch):
    from orchestrator.nodes import NodeType, registry
    from orchestrator.nodes.builtin import NoopNode

    class Buggy(NodeType):
        type_name = "api_test_buggy"
        config_schema = NoopNode.config_schema

        def run(self, ctx):
            return {}["missing_key"]

    monkeypatch.setitem(registry._registered, Buggy.type_name, Buggy)      # for this test only
    workflow = client.post("/api/v1/workflows", json={"definition": {
        "name": "buggy", "nodes": [{"id": "bug", "type": "api_test_buggy"}, {"id": "ok", "type": "noop"}]}}).json
    execution = submit(client, workflow["id"]).json
    stack.run()
    steps = {s["node_id"]: s for s in client.get(f"/api/v1/executions/{execution['id']}/steps").json["items"]}
    assert steps["bug"]["error"] == "KeyError: 'missing_key'"
    assert "Traceback (most recent call last)" in steps["bug"]["error_traceback"]
    assert 'return {}["missing_key"]' in steps["bug"]["error_traceback"]
    assert steps["ok"]["error_traceback"] is None
