"""Outbound notifications through the API and the notifier's sending (``deliver_due``, as the
workers' notifier calls it) to a real local HTTP server: written with the transition that
they tell of, signed, retried with backoff after a 5xx, failed at once on a 4xx or a refused
address, and listed with how their delivery went."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from orchestrator.db import NotificationDelivery, NotificationTarget
from orchestrator.db.types import utcnow
from orchestrator.services.deliveries import deliver_due
from tests.conftest import make_settings
from tests.support.api import BOOTSTRAP_KEY, api_stack, new_workflow, submit
from tests.support.httpserver import LocalHTTPServer


@pytest.fixture
def stack(tmp_path):
    started = api_stack(make_settings(tmp_path, ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY,
                                      ORCHESTRATOR_HTTP_ALLOW_PRIVATE="1", ORCHESTRATOR_NOTIFY_BACKOFF_SECONDS="0.2",
                                      ORCHESTRATOR_NOTIFY_MAX_ATTEMPTS="3"))
    yield started
    started.close()


@pytest.fixture
def receiver():
    server = LocalHTTPServer()
    yield server
    server.close()


def valid(secret: str, received) -> bool:
    """The body's signature, checked here with hmac and hashlib only."""
    fields = dict(part.split("=", 1) for part in received.headers["Orchestrator-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(fields["v1"], expected) and abs(time.time() - int(fields["t"])) < 60


def deliver_until_done(stack, seconds: float = 10.0) -> None:
    """Run the notifier until nothing is due or pending (the backoff is 0.2 s here)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        deliver_due(stack.engine)
        with stack.engine.sessions() as session:
            if session.scalar(select(NotificationDelivery.id).where(NotificationDelivery.status == "pending")) is None:
                return
        time.sleep(0.05)
    raise AssertionError("deliveries still pending")


def test_an_ended_execution_is_told_after_a_500_once_signed(client, stack, receiver):
    workflow_id = new_workflow(client, "chain")
    made = client.post(f"/api/v1/workflows/{workflow_id}/notifications",
                       json={"url": f"{receiver.url}/flaky?key=ended&fail=1&status=500&token=s3cret"})
    assert made.status_code == 201, made.json
    target = made.json
    assert target["secret"].startswith("ntsec_") and target["events"][0] == "execution.completed"
    assert target["url"] == f"{receiver.url}/flaky"             # no query string: it may hold a token
    execution_id = submit(client, workflow_id, {"n": 1}).json["id"]
    assert client.get(f"/api/v1/executions/{execution_id}/notifications").json["items"] == []
    stack.run()
    [pending] = client.get(f"/api/v1/executions/{execution_id}/notifications").json["items"]
    assert (pending["status"], pending["attempts"], pending["event"]) == ("pending", 0, "execution.completed")
    deliver_until_done(stack)

    assert [r.headers.get("Orchestrator-Event") for r in receiver.received] == ["execution.completed"] * 2
    first, second = receiver.received
    assert first.body == second.body and all(valid(target["secret"], r) for r in receiver.received)
    body = json.loads(second.body)
    assert body["execution"]["id"] == execution_id and body["execution"]["output"] == {"result": 20}
    assert body["id"] == second.headers["Orchestrator-Delivery"] == second.headers["Idempotency-Key"]
    [delivery] = client.get(f"/api/v1/executions/{execution_id}/notifications").json["items"]
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 2, 200)
    assert delivery["delivered_at"] and delivery["next_attempt_at"] is None and delivery["payload"] == body
    with stack.engine.sessions() as session:
        sealed = session.scalars(select(NotificationTarget)).one()
    assert b"s3cret" not in sealed.url_encrypted and target["secret"].encode() not in sealed.secret_encrypted


def test_an_approval_wait_and_a_per_execution_url_are_told(client, stack, receiver):
    workflow_id = new_workflow(client, "approval")
    answer = submit(client, workflow_id, {}, notify={"url": f"{receiver.url}/mine", "events": ["approval.waiting"]})
    assert answer.status_code == 202 and answer.json["notification_secret"].startswith("ntsec_")
    stack.run()
    deliver_until_done(stack)
    [told] = receiver.received
    assert told.path == "/mine" and valid(answer.json["notification_secret"], told)
    body = json.loads(told.body)
    [approval] = client.get("/api/v1/approvals", query_string={"status": "pending"}).json["items"]
    assert body["event"] == "approval.waiting" and body["approval"]["id"] == approval["id"]
    assert (body["approval"]["node_id"], body["execution"]["status"]) == (approval["node_id"], "running")
    client.post(f"/api/v1/approvals/{approval['id']}/approve", json={})
    stack.run()
    deliver_until_done(stack)
    assert len(receiver.received) == 1          # it asked for approval.waiting only
    replay = submit(client, workflow_id, {}, notify={"url": f"{receiver.url}/mine", "events": ["approval.waiting"]})
    assert replay.json["id"] != answer.json["id"]


def test_a_4xx_fails_at_once_and_a_5xx_gives_up_after_the_last_attempt(client, stack, receiver):
    workflow_id = new_workflow(client, "chain")
    for path in ("/status/404", "/status/503"):
        client.post(f"/api/v1/workflows/{workflow_id}/notifications", json={"url": receiver.url + path})
    execution_id = submit(client, workflow_id, {"n": 1}).json["id"]
    stack.run()
    deliver_until_done(stack)
    by_code = {d["last_status_code"]: d for d in client.get(f"/api/v1/executions/{execution_id}/notifications")
               .json["items"]}
    assert (by_code[404]["status"], by_code[404]["attempts"]) == ("failed", 1)
    assert by_code[404]["last_error"] == "answered 404 Not Found"
    assert (by_code[503]["status"], by_code[503]["attempts"]) == ("failed", 3)
    assert "attempt 3 of 3; no more" in by_code[503]["last_error"]
    assert receiver.hits["/status/404"] == 1 and receiver.hits["/status/503"] == 3


def test_a_private_address_is_refused_without_the_allow_flag(tmp_path, receiver):
    strict = api_stack(make_settings(tmp_path, ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY))
    try:
        client = strict.client()
        workflow_id = new_workflow(client, "chain")
        client.post(f"/api/v1/workflows/{workflow_id}/notifications", json={"url": receiver.url + "/hook"})
        execution_id = submit(client, workflow_id, {"n": 1}).json["id"]
        strict.run()
        assert deliver_due(strict.engine) == 1
        [delivery] = client.get(f"/api/v1/executions/{execution_id}/notifications").json["items"]
        assert delivery["status"] == "failed" and "ORCHESTRATOR_HTTP_ALLOW_PRIVATE" in delivery["last_error"]
        assert receiver.hits == {}
    finally:
        strict.close()


def test_a_lost_notifier_leaves_its_delivery_to_the_next_after_the_lease(client, stack, receiver):
    workflow_id = new_workflow(client, "chain")
    client.post(f"/api/v1/workflows/{workflow_id}/notifications", json={"url": receiver.url + "/hook"})
    submit(client, workflow_id, {"n": 1})
    stack.run()
    with stack.engine.sessions.begin() as session:      # claimed by a notifier that died before it sent
        session.execute(update(NotificationDelivery).values(attempts=1, next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert deliver_due(stack.engine) == 1 and len(receiver.received) == 1
    assert deliver_due(stack.engine) == 0


def test_targets_are_listed_deleted_and_checked(client, other, receiver):
    workflow_id = new_workflow(client, "chain")
    target = client.post(f"/api/v1/workflows/{workflow_id}/notifications",
                         json={"url": receiver.url + "/a", "events": ["execution.failed"]}).json
    [listed] = client.get(f"/api/v1/workflows/{workflow_id}/notifications").json["items"]
    assert "secret" not in listed and listed["events"] == ["execution.failed"]
    bad = {
        "scheme": client.post(f"/api/v1/workflows/{workflow_id}/notifications", json={"url": "ftp://x/y"}),
        "event": client.post(f"/api/v1/workflows/{workflow_id}/notifications",
                             json={"url": receiver.url, "events": ["execution.done"]}),
        "no events": client.post(f"/api/v1/workflows/{workflow_id}/notifications",
                                 json={"url": receiver.url, "events": []}),
        "other owner": other.post(f"/api/v1/workflows/{workflow_id}/notifications", json={"url": receiver.url}),
        "submit": client.post(f"/api/v1/workflows/{workflow_id}/executions", json={"notify": {"url": "nope"}}),
    }
    assert {k: v.status_code for k, v in bad.items()} == {"scheme": 422, "event": 422, "no events": 422,
                                                          "other owner": 404, "submit": 422}
    assert "url" in bad["scheme"].json["errors"] and "events" in bad["event"].json["errors"]
    assert client.delete(f"/api/v1/workflows/{workflow_id}/notifications/{target['id']}").status_code == 204
    assert client.get(f"/api/v1/workflows/{workflow_id}/notifications").json["items"] == []
    execution_id = submit(client, workflow_id, {"n": 1}).json["id"]
    assert other.get(f"/api/v1/executions/{execution_id}/notifications").status_code == 404
