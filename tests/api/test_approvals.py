"""/api/v1/approvals: the owner's pending approvals, decisions by id and by token."""
from __future__ import annotations

import uuid

import pytest

from orchestrator.nodes.builtin import HumanApprovalNode

APPROVAL_FIELDS = {"id", "execution_id", "node_id", "approver_email", "details", "status", "expires_at", "decided_at",
                   "decision_data"}


@pytest.fixture
def tokens(monkeypatch) -> list[str]:
    """The tokens that human_approval nodes would POST to their notify_url."""
    sent: list[str] = []
    monkeypatch.setattr(HumanApprovalNode, "on_suspended", lambda self, ctx, token: sent.append(token))
    return sent


def waiting(stack, client):
    execution_id = stack.start(client, "approval")
    [approval] = client.get("/api/v1/approvals?status=pending").json["items"]
    assert approval["execution_id"] == execution_id
    return execution_id, approval


def test_pending_approvals_are_listed_for_their_owner(stack, client, other):
    execution_id, approval = waiting(stack, client)
    assert set(approval) == APPROVAL_FIELDS
    assert (approval["node_id"], approval["approver_email"], approval["status"]) == (
        "ask", "boss@example.com", "pending")
    assert other.get("/api/v1/approvals").json == {"items": [], "next_cursor": None}
    assert client.get("/api/v1/approvals?status=approved").json["items"] == []
    assert client.get("/api/v1/approvals?status=maybe").status_code == 422


def test_status_all_lists_every_status_as_the_cli_asks(stack, client):
    _, decided = waiting(stack, client)
    client.post(f"/api/v1/approvals/{decided['id']}/approve")
    _, pending = waiting(stack, client)
    listed = client.get("/api/v1/approvals?status=all")
    assert listed.status_code == 200
    assert [(a["id"], a["status"]) for a in listed.json["items"]] == [(pending["id"], "pending"),
                                                                      (decided["id"], "approved")]
    assert listed.json == client.get("/api/v1/approvals").json


def test_approve_completes_the_step_with_the_decision_data(stack, client):
    execution_id, approval = waiting(stack, client)
    response = client.post(f"/api/v1/approvals/{approval['id']}/approve", json={"decision_data": {"by": "qa"}})
    assert response.status_code == 200
    assert (response.json["status"], response.json["decision_data"]) == ("approved", {"by": "qa"})
    stack.run()
    execution = client.get(f"/api/v1/executions/{execution_id}").json
    assert execution["status"] == "completed"
    assert execution["output"] == {"go": {"approved": True, "by": "qa"}}


def test_reject_fails_the_execution_and_a_second_decision_is_409(stack, client):
    execution_id, approval = waiting(stack, client)
    assert client.post(f"/api/v1/approvals/{approval['id']}/reject").json["status"] == "rejected"
    assert client.get(f"/api/v1/executions/{execution_id}").json["status"] == "failed"
    response = client.post(f"/api/v1/approvals/{approval['id']}/approve")
    assert response.status_code == 409 and response.json["message"] == "approval is already rejected"


def test_another_owners_approval_is_404(stack, client, other):
    _, approval = waiting(stack, client)
    for decision in ("approve", "reject"):
        response = other.post(f"/api/v1/approvals/{approval['id']}/{decision}")
        assert response.status_code == 404 and response.json["message"] == "approval not found"
    assert client.post(f"/api/v1/approvals/{uuid.uuid4()}/approve").status_code == 404


def test_decision_data_must_be_an_object(stack, client):
    _, approval = waiting(stack, client)
    response = client.post(f"/api/v1/approvals/{approval['id']}/approve", json={"decision_data": [1]})
    assert response.status_code == 422 and "decision_data" in response.json["errors"]


@pytest.mark.parametrize("decision, status", [("approve", "completed"), ("reject", "failed")])
def test_the_token_holder_decides_without_an_api_key(stack, client, anonymous, tokens, decision, status):
    execution_id, approval = waiting(stack, client)
    response = anonymous.post(f"/api/v1/approvals/token/{decision}",
                              json={"token": tokens[0], "decision_data": {"via": "mail"}})
    assert response.status_code == 200 and response.json["id"] == approval["id"]
    stack.run()
    assert client.get(f"/api/v1/executions/{execution_id}").json["status"] == status
    assert anonymous.post(f"/api/v1/approvals/token/{decision}", json={"token": tokens[0]}).status_code == 409


def test_an_unknown_token_is_404_and_the_id_routes_need_a_key(stack, client, anonymous, tokens):
    _, approval = waiting(stack, client)
    assert anonymous.post("/api/v1/approvals/token/approve", json={"token": "not-the-token"}).status_code == 404
    assert anonymous.post("/api/v1/approvals/token/approve", json={}).status_code == 422
    assert anonymous.post(f"/api/v1/approvals/{approval['id']}/approve").status_code == 401
    assert anonymous.get("/api/v1/approvals").status_code == 401


@pytest.mark.parametrize("route", ["id", "token"])
def test_decision_data_cannot_override_the_decision(stack, client, anonymous, tokens, route):
    _, approval = waiting(stack, client)
    body = {"decision_data": {"approved": False, "note": "x"}}
    if route == "id":
        response = client.post(f"/api/v1/approvals/{approval['id']}/approve", json=body)
    else:
        response = anonymous.post("/api/v1/approvals/token/approve", json={"token": tokens[0], **body})
    assert response.status_code == 422
    assert response.json["errors"] == {"decision_data": ["'approved' is the decision itself; approve or reject sets it"]}
    assert client.get("/api/v1/approvals", query_string={"status": "pending"}).json["items"][0]["id"] == approval["id"]
