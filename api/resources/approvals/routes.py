"""Human approvals: the owner decides by id; whoever holds the notified token decides by token.

The token travels in the body, never in the URL, so that access logs and proxies do not keep it."""
from __future__ import annotations

from typing import Any

from api.auth import public
from api.blueprint import Blueprint, conflict, not_found
from api.context import engine, owner, transaction
from api.resources.approvals.schemas import (
    ApprovalPageSchema, ApprovalQuery, ApprovalSchema, DecisionSchema, TokenDecisionSchema,
)
from orchestrator.services import approvals

blp = Blueprint("approvals", __name__, description="Decisions that human_approval nodes wait for")
NO_KEY: dict[str, list[Any]] = {"security": []}


@blp.route("/approvals")
@blp.arguments(ApprovalQuery, location="query")
@blp.response(200, ApprovalPageSchema)
def list_approvals(query):
    """List approvals, newest first (status=pending for those awaiting a decision)"""
    with transaction() as session:
        return approvals.list_approvals(session, owner(), **query)


@blp.route("/approvals/<uuid:approval_id>/approve", methods=["POST"])
@blp.arguments(DecisionSchema, required=False)
@blp.response(200, ApprovalSchema)
@conflict("the approval is already decided or has expired")
def approve(body, approval_id):
    """Approve: the step completes with {approved: true, ...decision_data}"""
    return approvals.decide(engine(), True, **body, approval_id=approval_id, owner=owner())


@blp.route("/approvals/<uuid:approval_id>/reject", methods=["POST"])
@blp.arguments(DecisionSchema, required=False)
@blp.response(200, ApprovalSchema)
@conflict("the approval is already decided or has expired")
def reject(body, approval_id):
    """Reject: the step fails, then its on_error policy applies"""
    return approvals.decide(engine(), False, **body, approval_id=approval_id, owner=owner())


@blp.route("/approvals/token/approve", methods=["POST"])
@public
@blp.arguments(TokenDecisionSchema)
@blp.response(200, ApprovalSchema)
@conflict("the approval is already decided or has expired")
@not_found("no approval has this token")
@blp.doc(**NO_KEY)
def approve_by_token(body):
    """Approve with the token sent to notify_url, given in the body (no API key)"""
    return approvals.decide(engine(), True, **body)


@blp.route("/approvals/token/reject", methods=["POST"])
@public
@blp.arguments(TokenDecisionSchema)
@blp.response(200, ApprovalSchema)
@conflict("the approval is already decided or has expired")
@not_found("no approval has this token")
@blp.doc(**NO_KEY)
def reject_by_token(body):
    """Reject with the token sent to notify_url, given in the body (no API key)"""
    return approvals.decide(engine(), False, **body)
