"""Audit log, licenses and limits (DESIGN section 13)."""
from __future__ import annotations


import pytest
from sqlalchemy import select

from orchestrator.db import User
from tests.support.api import new_workflow, submit, workflow_fixture


def audit_actions(client, **query) -> list[dict]:
    response = client.get("/api/v1/audit-logs", query_string={"limit": 200, **query})
    assert response.status_code == 200
    return response.json["items"]


def user_id(stack, email: str):
    with stack.engine.sessions() as s:
        return s.scalar(select(User.id).where(User.email == email))


def test_every_change_through_the_api_is_audited_with_who_and_from_where(stack, client):
    wid = new_workflow(client)
    client.put(f"/api/v1/workflows/{wid}", json={"definition": workflow_fixture("chain")})
    client.post(f"/api/v1/workflows/{wid}/publish")
    eid = submit(client, wid, {"n": 1}).json["id"]
    assert client.post(f"/api/v1/executions/{eid}/pause").status_code == 202
    assert client.post(f"/api/v1/executions/{eid}/resume").status_code == 202
    assert client.post(f"/api/v1/executions/{eid}/cancel").status_code == 202
    assert client.post(f"/api/v1/executions/{eid}/cancel").status_code == 409          # refused: not audited
    schedule = client.post(f"/api/v1/workflows/{wid}/schedules", json={"cron_expression": "0 9 * * *", "input": {"n": 1}}).json
    client.patch(f"/api/v1/schedules/{schedule['id']}", json={"cron_expression": "0 10 * * *"})
    client.post(f"/api/v1/schedules/{schedule['id']}/pause")
    client.post(f"/api/v1/schedules/{schedule['id']}/resume")
    client.delete(f"/api/v1/schedules/{schedule['id']}")
    key = client.post("/api/v1/api-keys", json={"name": "ci"}).json
    client.delete(f"/api/v1/api-keys/{key['id']}")
    stack.new_key("friend@example.com")
    license = client.post(f"/api/v1/workflows/{wid}/licenses", json={"user_email": "friend@example.com"}).json
    client.delete(f"/api/v1/workflows/{wid}/licenses/{license['id']}")
    client.put(f"/api/v1/users/{user_id(stack, 'friend@example.com')}/limits",
               json={"max_executions_per_minute": 5, "max_llm_cost_per_day": 2.5})
    client.delete(f"/api/v1/workflows/{wid}")

    entries = audit_actions(client)
    assert [e["action"] for e in reversed(entries)] == [
        "workflow.create", "workflow.update", "workflow.publish", "execution.create", "execution.pause",
        "execution.resume", "execution.cancel", "schedule.create", "schedule.update", "schedule.pause",
        "schedule.resume", "schedule.delete", "api_key.create", "api_key.revoke", "license.create",
        "license.delete", "user.limits", "workflow.archive"]
    admin = user_id(stack, "admin@localhost")
    assert {e["user_id"] for e in entries} == {str(admin)}
    assert all(e["api_key_id"] and e["client_address"] == "127.0.0.1" for e in entries)
    by_action = {e["action"]: e for e in entries}
    assert by_action["execution.cancel"]["object_id"] == eid and by_action["execution.cancel"]["object_type"] == "execution"
    assert by_action["workflow.create"]["object_id"] == wid
    assert by_action["user.limits"]["payload"] == {"max_executions_per_minute": "5", "max_llm_cost_per_day": "2.5"}
    assert audit_actions(client, action="schedule.pause")[0]["object_id"] == schedule["id"]


def test_a_decision_is_audited_in_the_engine_transaction_that_makes_it(stack, client):
    stack.start(client, "approval")
    [approval] = client.get("/api/v1/approvals?status=pending").json["items"]
    assert client.post(f"/api/v1/approvals/{approval['id']}/approve", json={}).status_code == 200
    assert client.post(f"/api/v1/approvals/{approval['id']}/reject", json={}).status_code == 409
    [entry] = audit_actions(client, action="approval.approve")
    assert entry["object_id"] == approval["id"] and entry["payload"] == {"by_token": False}
    assert audit_actions(client, action="approval.reject") == []


def test_others_see_only_their_own_entries_and_an_admin_sees_all(stack, client, other):
    new_workflow(client)
    new_workflow(other)
    mine = audit_actions(other)
    assert len(mine) == 1 and mine[0]["action"] == "workflow.create"
    assert len(audit_actions(client)) == 2


def test_a_license_lets_another_owner_run_the_workflow_until_it_is_revoked(stack, client, other):
    wid = new_workflow(client)
    client.post(f"/api/v1/workflows/{wid}/publish")
    assert submit(other, wid, {"n": 1}).status_code == 404
    granted = client.post(f"/api/v1/workflows/{wid}/licenses", json={"user_email": "other@example.com"})
    assert granted.status_code == 201 and granted.json["user_email"] == "other@example.com"
    assert client.post(f"/api/v1/workflows/{wid}/licenses", json={"user_email": "other@example.com"}).status_code == 409
    assert [lic["user_email"] for lic in client.get(f"/api/v1/workflows/{wid}/licenses").json["items"]] == \
        ["other@example.com"]
    assert other.get(f"/api/v1/workflows/{wid}/licenses").status_code == 404        # not theirs to manage

    submitted = submit(other, wid, {"n": 2})
    assert submitted.status_code == 202
    stack.run()
    execution = other.get(f"/api/v1/executions/{submitted.json['id']}").json
    assert execution["status"] == "completed" and execution["output"] == {"result": 30}
    assert client.get(f"/api/v1/executions/{submitted.json['id']}").status_code == 404   # the submitter's

    assert client.delete(f"/api/v1/workflows/{wid}/licenses/{granted.json['id']}").status_code == 204
    assert submit(other, wid, {"n": 3}).status_code == 404
    assert other.get(f"/api/v1/executions/{submitted.json['id']}").status_code == 200    # history stays


@pytest.mark.parametrize("email, message", [("nobody@example.com", "no user nobody@example.com"),
                                            ("admin@localhost", "that is the owner")])
def test_a_license_needs_another_existing_user(client, email, message):
    wid = new_workflow(client)
    response = client.post(f"/api/v1/workflows/{wid}/licenses", json={"user_email": email})
    assert response.status_code == 422 and response.json["errors"] == {"user_email": [message]}


def test_submissions_past_the_rate_answer_429_with_retry_after(stack, client, other):
    wid = new_workflow(other)
    limited = client.put(f"/api/v1/users/{user_id(stack, 'other@example.com')}/limits",
                         json={"max_executions_per_minute": 2, "max_llm_cost_per_day": None})
    assert limited.status_code == 200 and limited.json["max_executions_per_minute"] == 2
    answers = [submit(other, wid, {"n": i}) for i in range(3)]
    assert [a.status_code for a in answers[:2]] == [202, 202]
    refused = answers[2]
    if refused.status_code == 202:          # the minute turned between the submissions: one more in the new one
        refused = submit(other, wid, {"n": 9})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json["message"] == "over the limit of 2 executions per minute"
    assert submit(client, new_workflow(client), {"n": 1}).status_code == 202        # others are not limited


def test_only_an_admin_sets_limits(stack, client, other):
    target = user_id(stack, "admin@localhost")
    body = {"max_executions_per_minute": 1, "max_llm_cost_per_day": 1}
    assert other.put(f"/api/v1/users/{target}/limits", json=body).status_code == 403
    assert client.put("/api/v1/users/00000000-0000-0000-0000-000000000000/limits", json=body).status_code == 404
    assert client.put(f"/api/v1/users/{target}/limits", json={"max_executions_per_minute": 0,
                                                              "max_llm_cost_per_day": None}).status_code == 422
