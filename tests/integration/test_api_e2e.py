"""The API end to end: gunicorn serving ``api.wsgi:app`` over HTTP, real `celery worker`
processes on Redis, PostgreSQL; a workflow is created, run, followed over SSE and read back."""
from __future__ import annotations

import pytest
import requests

from tests.support.api import BOOTSTRAP_KEY, server_sent_events, workflow_fixture
from tests.support.servers import free_port

pytestmark = pytest.mark.integration
SSE = {"Accept": "text/event-stream"}


class ApiSession(requests.Session):
    """Requests to the API under test: paths relative to its base URL, with the bootstrap key."""

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url
        self.headers["Authorization"] = f"Bearer {BOOTSTRAP_KEY}"

    def request(self, method, path, *args, **kwargs):
        kwargs.setdefault("timeout", 30)
        return super().request(method, self.base_url + path, *args, **kwargs)


@pytest.fixture(scope="module")
def api(stack):
    base_url = stack[3].start_api("api", free_port(), {"ORCHESTRATOR_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY})
    with ApiSession(base_url) as session:
        yield session


def create_and_submit(api, fixture, input):
    workflow = api.post("/api/v1/workflows", json={"definition": workflow_fixture(fixture)})
    assert workflow.status_code == 201, workflow.text
    workflow_id = workflow.json()["id"]
    assert api.post(f"/api/v1/workflows/{workflow_id}/publish").json()["published_version"] == 1
    submitted = api.post(f"/api/v1/workflows/{workflow_id}/executions", json={"input": input},
                         headers={"Idempotency-Key": f"e2e-{fixture}"})
    assert submitted.status_code == 202, submitted.text
    return submitted.json()["id"]


def test_a_workflow_runs_on_workers_and_its_events_stream_to_the_end(api):
    execution_id = create_and_submit(api, "chain", {"n": 4})
    with api.get(f"/api/v1/executions/{execution_id}/events", headers=SSE, stream=True) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        events = list(server_sent_events(stream.iter_lines(decode_unicode=True)))
    assert events[-1]["event"] == "execution_completed"
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert [e["data"]["node_id"] for e in events if e["event"] == "step_completed"] == ["a", "b", "c"]

    execution = api.get(f"/api/v1/executions/{execution_id}").json()
    assert (execution["status"], execution["output"]) == ("completed", {"result": 50})
    steps = api.get(f"/api/v1/executions/{execution_id}/steps").json()["items"]
    assert [(s["node_id"], s["status"], s["output"]) for s in steps] == [
        ("a", "completed", {"n": 4}), ("b", "completed", {"n": 5}), ("c", "completed", {"n": 50})]
    assert all(s["duration_ms"] is not None for s in steps)


def test_an_approval_decided_over_http_while_the_stream_is_open(api):
    execution_id = create_and_submit(api, "approval", {})
    with api.get(f"/api/v1/executions/{execution_id}/events", headers=SSE, stream=True) as stream:
        events = server_sent_events(stream.iter_lines(decode_unicode=True))
        received = []
        for event in events:
            received.append(event)
            if event["event"] == "step_waiting":
                break
        [approval] = api.get("/api/v1/approvals", params={"status": "pending"}).json()["items"]
        assert approval["execution_id"] == execution_id
        decided = api.post(f"/api/v1/approvals/{approval['id']}/approve", json={"decision_data": {"by": "e2e"}})
        assert decided.json()["status"] == "approved"
        received += list(events)
    assert received[-1]["event"] == "execution_completed"
    execution = api.get(f"/api/v1/executions/{execution_id}").json()
    assert execution["output"] == {"go": {"approved": True, "by": "e2e"}}


def test_operations_answer_without_a_key(api):
    assert requests.get(f"{api.base_url}/readyz", timeout=10).json()["checks"] == {"database": "ok", "broker": "ok"}
    metrics = requests.get(f"{api.base_url}/metrics", timeout=10).text
    assert 'orchestrator_executions_active{status="running"}' in metrics and 'orchestrator_build_info{' in metrics
    assert requests.get(f"{api.base_url}/api/v1/workflows", timeout=10).status_code == 401
