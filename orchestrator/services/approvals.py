"""Human approvals: the owner's list, and decisions by the owner or by the token holder."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from orchestrator.db import Execution, ExecutionStep, HumanApproval, User
from orchestrator.engine import Engine, decide_approval
from orchestrator.services import audit
from orchestrator.services.errors import Invalid
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, paginate
from orchestrator.states import ApprovalStatus

# An approval as people see it: the node it holds, never its token hash.
_VIEW = select(HumanApproval.id, HumanApproval.execution_id, ExecutionStep.node_id, HumanApproval.approver_email,
               HumanApproval.details,
               HumanApproval.status, HumanApproval.expires_at, HumanApproval.decided_at,
               HumanApproval.decision_data, HumanApproval.created_at) \
    .join(ExecutionStep, ExecutionStep.id == HumanApproval.step_id)


def list_approvals(session: Session, owner: User, *, status: ApprovalStatus | str | None = None,
                   cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> Page[Row]:
    """The owner's approvals, newest first, in ``status`` (None or ``all``: every status)."""
    query = _VIEW.join(Execution, Execution.id == HumanApproval.execution_id).where(Execution.owner_id == owner.id)
    if status not in (None, "all"):
        query = query.where(HumanApproval.status == status)
    return paginate(session, query, HumanApproval, cursor, limit)


def decide(engine: Engine, approved: bool, decision_data: dict[str, Any] | None = None, *,
           approval_id: uuid.UUID | None = None, token: str | None = None, owner: User | None = None) -> Row:
    """Approve or reject: by id for its owner, or by token for whoever holds it. The decision is
    ``approved``; ``decision_data`` adds to it and may not contradict it."""
    if decision_data and "approved" in decision_data:
        raise Invalid("decision_data may not hold 'approved': approve or reject decides",
                      {"decision_data": ["'approved' is the decision itself; approve or reject sets it"]})
    with audit.pending("approval.approve" if approved else "approval.reject", "approval", approval_id,
                       {"by_token": token is not None}):
        approval = decide_approval(engine, approved, decision_data, approval_id=approval_id, token=token,
                                   owner_id=owner.id if owner else None)
    with engine.sessions() as session:
        return session.execute(_VIEW.where(HumanApproval.id == approval.id)).one()
