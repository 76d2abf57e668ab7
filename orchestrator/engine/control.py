"""What people do to a running execution: cancel, pause, resume, retry, decide an approval.

Each is one ``Transaction``; a request the state does not allow is ``NotAllowed`` (HTTP 409).
"""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from orchestrator.db import HumanApproval
from orchestrator.engine.core import Engine
from orchestrator.engine.transaction import Transaction, hash_token
from orchestrator.engine.transitions import EXECUTION_TRANSITIONS
from orchestrator.states import ApprovalStatus, ExecutionStatus as E, StepStatus as S


class NotAllowed(Exception):
    """The execution's or approval's state does not allow the request (HTTP 409)."""


class Unknown(LookupError):
    """No such execution or approval (HTTP 404)."""


def _control(engine: Engine, execution_id: uuid.UUID, to: E, body) -> None:
    def run(txn: Transaction) -> bool:
        if to not in EXECUTION_TRANSITIONS[E(txn.execution.status)]:
            raise NotAllowed(f"execution is {txn.execution.status}; it cannot become {to.value}")
        body(txn)
        return True
    if engine.atomic(execution_id, run) is None:
        raise Unknown(f"execution {execution_id} not found")


def cancel(engine: Engine, execution_id: uuid.UUID) -> None:
    """Mark the execution and its open steps cancelled; running tasks are revoked after commit."""
    _control(engine, execution_id, E.CANCELLED, lambda txn: txn.end(E.CANCELLED, "cancelled on request"))


def pause(engine: Engine, execution_id: uuid.UUID) -> None:
    """Running nodes finish; nothing further is dispatched until resume."""
    _control(engine, execution_id, E.PAUSED, lambda txn: txn.move_execution(E.PAUSED, "paused on request"))


def resume(engine: Engine, execution_id: uuid.UUID) -> None:
    def body(txn: Transaction) -> None:
        if txn.execution.status != E.PAUSED:
            raise NotAllowed(f"execution is {txn.execution.status}; only a paused execution resumes")
        txn.move_execution(E.RUNNING, "resumed on request")
        for step in txn.steps().values():
            if step.status == S.QUEUED:
                txn.dispatch(step, step.not_before)
        txn.advance()
    _control(engine, execution_id, E.RUNNING, body)


def retry(engine: Engine, execution_id: uuid.UUID) -> None:
    """A new attempt from the failed steps; completed steps keep their results."""
    def body(txn: Transaction) -> None:
        if txn.execution.status != E.FAILED:
            raise NotAllowed(f"execution is {txn.execution.status}; only a failed execution is retried")
        txn.move_execution(E.RUNNING, "retry on request", error_message=None, error_traceback=None, output=None,
                           step_count=0)
        roots = set(txn.engine.definitions.plan(txn.definition).roots)
        for step in txn.steps().values():
            if step.status not in (S.FAILED, S.CANCELLED):
                continue
            if step.status == S.FAILED or step.node_id in roots:
                txn.restart_turns(step)
                txn.queue(step, "queued again by retry", attempt=step.attempt + 1, turn=0, failed_attempts=0,
                          not_before=None)
            else:
                txn.move_step(step, S.PENDING, "pending again by retry")
        txn.advance()
    _control(engine, execution_id, E.RUNNING, body)


def decide_approval(engine: Engine, approved: bool, decision_data: dict[str, Any] | None = None, *,
                    approval_id: uuid.UUID | None = None, token: str | None = None,
                    owner_id: uuid.UUID | None = None) -> HumanApproval:
    """Approve or reject a pending approval, by id (its owner) or by the token holder."""
    with engine.sessions() as session:
        query = select(HumanApproval)
        query = query.where(HumanApproval.id == approval_id) if token is None else \
            query.where(HumanApproval.token_hash == hash_token(token))
        approval = session.scalar(query)
    if approval is None:
        raise Unknown("approval not found")
    status = ApprovalStatus.APPROVED if approved else ApprovalStatus.REJECTED

    def body(txn: Transaction) -> HumanApproval:
        if owner_id is not None and txn.execution.owner_id != owner_id:
            raise Unknown("approval not found")
        current = txn.conn.execute(select(HumanApproval.status, HumanApproval.expires_at)
                                   .where(HumanApproval.id == approval.id)).one()
        if current.status != ApprovalStatus.PENDING:
            raise NotAllowed(f"approval is already {current.status}")
        if current.expires_at <= txn.now:
            raise NotAllowed("approval has expired")
        resolve_approval(txn, approval.id, approval.step_id, status, decision_data or {})
        return approval

    decided = engine.atomic(approval.execution_id, body)
    if decided is None:
        raise Unknown("approval not found")
    with engine.sessions() as session:
        return session.get(HumanApproval, approval.id)


def resolve_approval(txn: Transaction, approval_id: uuid.UUID, step_id: uuid.UUID, status: ApprovalStatus,
                     decision_data: dict[str, Any]) -> None:
    """Record the decision; approval completes the step, rejection and expiry fail it (then on_error)."""
    txn.conn.execute(update(HumanApproval).where(HumanApproval.id == approval_id).values(
        status=status.value, decision_data=decision_data, decided_at=txn.now))
    step = txn.step(step_id)
    if step is None or step.status != S.WAITING:
        return
    decision = {**decision_data, "approved": status is ApprovalStatus.APPROVED, "status": status.value}
    if txn.take_up(step, {"approval": decision}, f"approval {decision['status']}; the node goes on"):
        return
    if status is ApprovalStatus.APPROVED:
        txn.complete(step, {**decision_data, "approved": True}, "approved")
        txn.advance(after=step.node_id)
    else:
        txn.fail_attempt(step, f"approval {status.value}", retryable=False)
