"""A Dify app's exported DSL imported through the API over HTTP and run end to end on real
workers: its http-request node against a local HTTP server, its llm node against the offline
model provider (OpenAI protocol), its if-else taking each branch, its template formatting the
answer. PostgreSQL, Redis, a `celery worker` process and gunicorn."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests

from examples.llm_server import LLMServer
from orchestrator.services import api_keys
from tests.support.servers import free_port
from tests.support.stack import running_stack

pytestmark = pytest.mark.integration
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "dify" / "article_digest.yml"
START, FETCH, SUMMARISE, DIGEST, UNAVAILABLE = (f"17339112000{n:02d}" for n in (1, 2, 4, 6, 7))


@pytest.fixture(scope="module")
def model_server():
    server = LLMServer().start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def api(servers, tmp_path_factory, model_server):
    """The API over HTTP on a stack with one worker, and a session with an API key, on which the
    provider ``openai`` (the offline server) has the model the Dify app names."""
    with running_stack(tmp_path_factory.mktemp("dify"), servers.create_database(), servers.claim_redis_db(),
                       workers=1, ORCHESTRATOR_LLM_ALLOW_PRIVATE="1") as stack:
        with stack.engine.sessions.begin() as s:
            key = api_keys.issue_api_key(s, s.merge(stack.owner), "dify")[1]
        url = stack.workers.start_api("api", free_port()) + "/api/v1"
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        provider = session.post(f"{url}/providers", json={"name": "openai", "type": "openai"}).json()["id"]
        for path, body in (("endpoints", {"name": "offline", "base_url": f"{model_server.url}/v1"}),
                           ("credentials", {"api_key": "sk-offline-dify-0000", "alias": "main"}),
                           ("models", {"model_id": "gpt-4o-mini", "input_price": 0.15, "output_price": 0.6})):
            answer = session.post(f"{url}/providers/{provider}/{path}", json=body)
            assert answer.status_code == 201, answer.text
        yield url, session, stack


def run(url, session, workflow_id, input) -> dict:
    submitted = session.post(f"{url}/workflows/{workflow_id}/executions", json={"input": input})
    assert submitted.status_code == 202, submitted.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        execution = session.get(f"{url}/executions/{submitted.json()['id']}").json()
        if execution["status"] not in ("pending", "running"):
            return execution
        time.sleep(0.1)
    raise AssertionError(f"execution did not end: {execution}")


def test_an_imported_dify_workflow_runs_end_to_end(api, model_server):
    url, session, stack = api
    imported = session.post(f"{url}/workflows/import", json={"document": FIXTURE.read_text()})
    assert imported.status_code == 201, imported.text
    workflow_id = imported.json()["workflow"]["id"]
    assert session.post(f"{url}/workflows/{workflow_id}/publish").status_code == 200

    execution = run(url, session, workflow_id, {"url": f"{stack.http.url}/articles", "topic": "agents",
                                                "audience": "engineers"})
    assert execution["status"] == "completed", execution["error"]
    [request] = model_server.requests
    assert (request.model, request.api_key) == ("gpt-4o-mini", "sk-offline-dify-0000")
    assert request.messages[0] == {"role": "system",
                                   "content": "You summarise articles in three sentences for engineers."}
    fetched = json.loads(request.messages[1]["content"].removeprefix("Summarise these agents articles: "))
    assert (fetched["path"], fetched["query"]) == ("/articles", {"topic": "agents"})
    digest = execution["output"][DIGEST]
    assert digest["status"] == 200
    assert digest["digest"] == f"## Agents\n\noffline reply to: {request.messages[1]['content']}"
    steps = {s["node_id"]: s for s in session.get(f"{url}/executions/{execution['id']}/steps").json()["items"]}
    assert (steps[SUMMARISE]["status"], steps[UNAVAILABLE]["status"]) == ("completed", "skipped")
    assert steps[SUMMARISE]["output"]["usage"]["total_tokens"] > 0


def test_the_else_branch_when_the_source_does_not_answer(api, model_server):
    url, session, stack = api
    model_server.reset()
    imported = session.post(f"{url}/workflows/import", json={"document": FIXTURE.read_text(), "name": "digest-2"})
    workflow_id = imported.json()["workflow"]["id"]
    execution = run(url, session, workflow_id, {"url": f"{stack.http.url}/status/404", "topic": "python"})
    assert execution["status"] == "completed", execution["error"]
    assert execution["output"] == {UNAVAILABLE: {"status": 404, "error": '{"status": "as asked"}'}}
    assert model_server.requests == []
    refused = session.post(f"{url}/workflows/{workflow_id}/executions", json={"input": {"topic": "cooking"}})
    assert refused.status_code == 422 and refused.json()["errors"]["input"] == [     # the start node's variables
        "$: 'url' is a required property", "$.topic: 'cooking' is not one of ['agents', 'python', 'databases']"]
