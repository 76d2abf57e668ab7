"""Webhooks, notifications and the Python SDK end to end: gunicorn serving the API, two
`celery worker` processes (whose notifiers send the notifications) on Redis and PostgreSQL, a
local HTTP server receiving them; and README's examples run as written."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from orchestrator.definitions import load_document
from orchestrator.sdk import Client, ExecutionRef, human_approval, transform, workflow
from orchestrator.states import ExecutionStatus
from tests.support.api import BOOTSTRAP_KEY
from tests.support.servers import free_port
from tests.support.stack import running_stack

pytestmark = pytest.mark.integration
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("triggers"), servers.create_database(), servers.claim_redis_db(),
                       ORCHESTRATOR_NOTIFY_BACKOFF_SECONDS="0.5") as running:
        yield running


@pytest.fixture(scope="module")
def api_url(stack):
    return stack.workers.start_api("api", free_port(), {"ORCHESTRATOR_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY})


@pytest.fixture
def sdk(api_url):
    with Client(api_url, BOOTSTRAP_KEY) as client:
        yield client


def block(heading: str, language: str, holding: str = "") -> str:
    """The first ``language`` code block of README's section ``heading`` that holds ``holding``."""
    section = README[README.index(f"\n{heading}\n"):]
    return next(code for code in re.findall(rf"```{language}\n(.*?)```", section, re.S) if holding in code)


def signature_ok(secret: str, received) -> bool:
    fields = dict(part.split("=", 1) for part in received.headers["Orchestrator-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(fields["v1"], expected)


def eventually(check, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def received(stack, path: str) -> list:
    return [r for r in stack.http.received if r.path == path]


def chain(name: str):
    wf = workflow(name, input_schema={"type": "object", "required": ["n"]})
    first = wf.add(transform("a", output={"n": "{{ input.n }}"}))
    first >> transform("b", output={"n": "{{ nodes.a.output.n * 2 }}"})
    return wf


def test_a_signed_webhook_starts_one_execution_and_a_bad_or_replayed_one_none(sdk, api_url):
    saved = sdk.save(chain("hooked"), publish=True)
    hook = sdk.rest.call("POST", f"/workflows/{saved.id}/webhooks", json={"idempotency_field": "event"})
    body = json.dumps({"event": "e-1", "n": 21}).encode()

    def call(stamp: int, digest: str | None = None) -> requests.Response:
        digest = digest or hmac.new(hook["secret"].encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return requests.post(hook["url"], data=body, timeout=10, headers={
            "Content-Type": "application/json", "Orchestrator-Signature": f"t={stamp},v1={digest}"})

    now = int(time.time())
    accepted = call(now)
    assert accepted.status_code == 202, accepted.text
    replayed, forged, stale = call(now), call(now, "0" * 64), call(now - 600)
    assert (replayed.status_code, forged.status_code, stale.status_code) == (409, 401, 401)
    assert "replayed" in replayed.json()["message"] and "does not match" in forged.json()["message"]
    assert "s old; it must be within 300 s" in stale.json()["message"]
    done = sdk.wait(accepted.json()["execution_id"], timeout=20)
    assert (done.status, done.trigger, done.output) == (ExecutionStatus.COMPLETED, "webhook", {"b": {"n": 42}})
    runs = sdk.rest.items("/executions", {"workflow_id": saved.id})
    assert [r["id"] for r in runs] == [done.id]


def test_a_notification_is_retried_after_a_500_and_delivered_once_signed(sdk, stack):
    saved = sdk.save(chain("notifying"), publish=True)
    target = sdk.rest.call("POST", f"/workflows/{saved.id}/notifications",
                           json={"url": f"{stack.http.url}/flaky?key=notify-e2e&fail=1&status=500"})
    done = sdk.wait(sdk.submit(saved.id, {"n": 2}).id, timeout=20)
    delivered = eventually(lambda: [d for d in sdk.rest.items(f"/executions/{done.id}/notifications")
                                    if d["status"] == "delivered"])
    assert [(d["event"], d["attempts"], d["last_status_code"]) for d in delivered] == [
        ("execution.completed", 2, 200)]
    received = [r for r in stack.http.received if r.path.startswith("/flaky?key=notify-e2e")]
    assert len(received) == 2 and stack.http.hits["notify-e2e"] == 2        # the 500, then the one delivered
    assert received[0].body == received[1].body and all(signature_ok(target["secret"], r) for r in received)
    body = json.loads(received[1].body)
    assert (body["event"], body["execution"]["id"], body["execution"]["output"]) == (
        "execution.completed", done.id, {"b": {"n": 4}})
    time.sleep(1)                                           # nothing more comes
    assert stack.http.hits["notify-e2e"] == 2


def test_an_approval_wait_notifies_and_the_client_streams_and_cancels(sdk, stack):
    wf = workflow("waits")
    wf.add(transform("draft", output={"title": "t"})) >> human_approval("review", expires_in_seconds=600)
    saved = sdk.save(wf, publish=True)
    run = sdk.submit(saved.id, {}, idempotency_key="waits-1", notify_url=f"{stack.http.url}/approval-e2e",
                     notify_events=["approval.waiting", "execution.cancelled"])
    assert isinstance(run, ExecutionRef) and run.notification_secret
    assert sdk.submit(saved.id, {}, idempotency_key="waits-1", notify_url=f"{stack.http.url}/approval-e2e",
                      notify_events=["approval.waiting", "execution.cancelled"]).id == run.id
    for event in sdk.events(run.id):
        if event.event_type == "step_waiting":
            break
    assert event.node_id == "review"
    told = eventually(lambda: received(stack, "/approval-e2e"))
    assert json.loads(told[0].body)["approval"]["node_id"] == "review"
    assert signature_ok(run.notification_secret, told[0])
    assert sdk.cancel(run.id).status is ExecutionStatus.CANCELLED
    assert sdk.wait(run.id, timeout=5).status is ExecutionStatus.CANCELLED
    told = eventually(lambda: len(received(stack, "/approval-e2e")) == 2 and received(stack, "/approval-e2e"))
    assert [json.loads(r.body)["event"] for r in told] == ["approval.waiting", "execution.cancelled"]


def test_readmes_python_example_runs_as_written(api_url, monkeypatch, capsys):
    code = block("## Workflows in Python", "python")
    monkeypatch.setenv("ORCHESTRATOR_URL", api_url)
    monkeypatch.setenv("ORCHESTRATOR_API_KEY", BOOTSTRAP_KEY)
    namespace: dict = {}
    exec(compile(code, "README.md (order_scores.py)", "exec"), namespace)      # noqa: S102 - README's own code
    expected = re.search(r"\n# (completed .*)\n", block("## Workflows in Python", "sh", "order_scores.py")).group(1)
    assert capsys.readouterr().out.strip() == expected
    assert namespace["orders"].to_dict() == load_document(block("## Workflows in Python", "yaml"))


@pytest.mark.skipif(not all(shutil.which(tool) for tool in ("curl", "jq", "openssl", "awk")),
                    reason="README's commands need curl, jq, openssl and awk")
def test_readmes_webhook_and_notification_commands_work_as_written(sdk, api_url):
    digest = block("### Walk-through with curl", "yaml")
    saved = sdk.create_workflow(load_document(digest))
    env = {**os.environ, "API": f"{api_url}/api/v1", "KEY": BOOTSTRAP_KEY, "WF": saved.id}
    for heading_text in ("HOOK=$(curl", "curl -s $API/workflows/$WF/notifications"):
        script = block("## Webhooks and notifications", "sh", heading_text)
        result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], env=env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        if heading_text.startswith("HOOK"):
            first, replay = result.stdout.strip().split("\n", 1)
            assert json.loads(first)["status"] == "pending"
            assert "this signature was accepted before: a replayed request is refused" in replay
        else:
            target = json.loads(result.stdout.splitlines()[0])
            assert target["url"] == "https://hooks.example.com/orchestrator" and target["secret"].startswith("ntsec_")
    started = sdk.rest.items("/executions", {"workflow_id": saved.id})
    assert sorted(e["trigger"] for e in started) == ["api", "webhook"]
