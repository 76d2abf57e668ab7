"""What people do to a running execution: cancel, pause, resume, retry, decide an approval."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from orchestrator.db import Execution, ExecutionStep, HumanApproval
from orchestrator.db.types import utcnow
from orchestrator.engine.core import Engine, hash_token
from orchestrator.engine.transitions import EXECUTION_TRANSITIONS, lock_execution, move_execution, move_step
from orchestrator.states import ApprovalStatus, ExecutionStatus as E, StepStatus as S


class NotAllowed(Exception):
    """The execution's or approval's state does not allow the request (HTTP 409)."""


class Unknown(LookupError):
    """No such execution or approval (HTTP 404)."""


def _locked(session, execution_id: uuid.UUID, to: E) -> Execution:
    execution = lock_execution(session, execution_id)
    if execution is None:
        raise Unknown(f"execution {execution_id} not found")
    if to not in EXECUTION_TRANSITIONS[E(execution.status)]:
        raise NotAllowed(f"execution is {execution.status}; it cannot become {to.value}")
    return execution


def cancel(engine: Engine, execution_id: uuid.UUID) -> None:
    """Mark the execution and its open steps cancelled; running tasks are revoked after commit."""
    with engine.transaction() as (session, outbox):
        execution = _locked(session, execution_id, E.CANCELLED)
        engine._end(session, execution, outbox, E.CANCELLED, "cancelled on request")


def pause(engine: Engine, execution_id: uuid.UUID) -> None:
    """Running nodes finish; nothing further is dispatched until resume."""
    with engine.transaction() as (session, _):
        execution = _locked(session, execution_id, E.PAUSED)
        move_execution(session, execution, E.PAUSED, "paused on request")


def resume(engine: Engine, execution_id: uuid.UUID) -> None:
    with engine.transaction() as (session, outbox):
        execution = _locked(session, execution_id, E.RUNNING)
        if execution.status != E.PAUSED:
            raise NotAllowed(f"execution is {execution.status}; only a paused execution resumes")
        move_execution(session, execution, E.RUNNING, "resumed on request")
        definition = engine.definition(session, execution)
        for step in engine._steps(session, execution).values():
            if step.status == S.QUEUED and (step.not_before is None or step.not_before <= utcnow()):
                step.dispatched_at = utcnow()
                outbox.messages.append(engine._message(execution, step, definition))
        engine._advance(session, execution, outbox)


def retry(engine: Engine, execution_id: uuid.UUID) -> None:
    """A new attempt from the failed steps; completed steps keep their results."""
    with engine.transaction() as (session, outbox):
        execution = _locked(session, execution_id, E.RUNNING)
        if execution.status != E.FAILED:
            raise NotAllowed(f"execution is {execution.status}; only a failed execution is retried")
        definition = engine.definition(session, execution)
        move_execution(session, execution, E.RUNNING, "retry on request", error_message=None,
                       error_traceback=None, output=None, step_count=0)
        for step in engine._steps(session, execution).values():
            if step.status not in (S.FAILED, S.CANCELLED):
                continue
            root = not definition.incoming(step.node_id)
            if step.status == S.FAILED or root:
                move_step(session, execution, step, S.QUEUED, "queued again by retry",
                          attempt=step.attempt + 1, failed_attempts=0, not_before=None, dispatched_at=utcnow())
                outbox.messages.append(engine._message(execution, step, definition))
            else:
                move_step(session, execution, step, S.PENDING, "pending again by retry")
        engine._advance(session, execution, outbox)


def decide_approval(engine: Engine, approved: bool, decision_data: dict[str, Any] | None = None, *,
                    approval_id: uuid.UUID | None = None, token: str | None = None,
                    owner_id: uuid.UUID | None = None) -> HumanApproval:
    """Approve or reject a pending approval, by id (its owner) or by the token holder."""
    with engine.transaction() as (session, outbox):
        query = select(HumanApproval)
        query = query.where(HumanApproval.id == approval_id) if token is None else \
            query.where(HumanApproval.token_hash == hash_token(token))
        approval = session.scalar(query)
        execution = lock_execution(session, approval.execution_id) if approval else None
        if approval is None or (owner_id is not None and execution.owner_id != owner_id):
            raise Unknown("approval not found")
        session.refresh(approval)
        if approval.status != ApprovalStatus.PENDING:
            raise NotAllowed(f"approval is already {approval.status}")
        step = session.get(ExecutionStep, approval.step_id, populate_existing=True)
        if approval.expires_at <= utcnow():
            raise NotAllowed("approval has expired")
        resolve_approval(engine, session, outbox, execution, step, approval,
                         ApprovalStatus.APPROVED if approved else ApprovalStatus.REJECTED, decision_data or {})
        return approval


def resolve_approval(engine: Engine, session, outbox, execution: Execution, step: ExecutionStep,
                     approval: HumanApproval, status: ApprovalStatus, decision_data: dict[str, Any]) -> None:
    approval.status = status.value
    approval.decision_data = decision_data
    approval.decided_at = utcnow()
    if status is ApprovalStatus.APPROVED:
        move_step(session, execution, step, S.COMPLETED, "approved", output={"approved": True, **decision_data})
        engine._advance(session, execution, outbox)
    else:
        engine._failed(session, execution, step, engine.definition(session, execution), outbox,
                       f"approval {status.value}", None, retryable=False)
