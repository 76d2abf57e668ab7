"""The periodic sweep: what no message can be trusted with (DESIGN sections 4 and 9).

Re-sends queued steps whose message may be lost or whose backoff has passed, recovers
running steps whose lease expired (a vanished worker: the next attempt, not counted as a
failure), wakes finished delays, expires approvals and times out executions. Every item is
its own transaction under the execution lock, and re-checks the row, so several sweepers
(one per worker) may run at once. About once an hour it also deletes the events of
executions that finished before the retention period (seed 001: 30 days).
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select

from orchestrator.db import Execution, ExecutionEvent, ExecutionStep, HumanApproval
from orchestrator.db.types import utcnow
from orchestrator.engine.control import resolve_approval
from orchestrator.engine.core import Engine
from orchestrator.engine.transitions import lock_execution, move_step
from orchestrator.states import (
    EXECUTION_ACTIVE, EXECUTION_TERMINAL, ApprovalStatus, ExecutionStatus as E, StepStatus as S,
)

log = logging.getLogger(__name__)
BATCH = 200
PRUNE_BATCH = 5000
PRUNE_EVERY = timedelta(hours=1)
_next_prune = {"at": None}   # per process: when this sweeper next prunes


def sweep(engine: Engine) -> int:
    """One pass; returns how many rows it acted on."""
    now = utcnow()
    with engine.sessions() as session:
        stale = now - timedelta(seconds=engine.settings.requeue_after_seconds)
        to_send = session.execute(
            select(ExecutionStep.id, ExecutionStep.execution_id)
            .join(Execution, Execution.id == ExecutionStep.execution_id)
            .where(ExecutionStep.status == S.QUEUED, Execution.status.in_([E.PENDING, E.RUNNING]),
                   or_(and_(ExecutionStep.dispatched_at.is_(None),
                            or_(ExecutionStep.not_before.is_(None), ExecutionStep.not_before <= now)),
                       ExecutionStep.dispatched_at < stale))
            .limit(BATCH)).all()
        expired_leases = session.execute(
            select(ExecutionStep.id, ExecutionStep.execution_id)
            .where(ExecutionStep.status == S.RUNNING, ExecutionStep.lease_expires_at < now).limit(BATCH)).all()
        delays_due = session.execute(
            select(ExecutionStep.id, ExecutionStep.execution_id)
            .where(ExecutionStep.status == S.WAITING, ExecutionStep.not_before <= now).limit(BATCH)).all()
        approvals_due = session.execute(
            select(HumanApproval.id, HumanApproval.execution_id)
            .where(HumanApproval.status == ApprovalStatus.PENDING, HumanApproval.expires_at <= now).limit(BATCH)).all()
        overdue = session.scalars(
            select(Execution.id).where(Execution.status.in_([s.value for s in EXECUTION_ACTIVE]),
                                       Execution.deadline_at <= now).limit(BATCH)).all()
    for step_id, execution_id in to_send:
        _resend(engine, execution_id, step_id, stale)
    for step_id, execution_id in expired_leases:
        _recover(engine, execution_id, step_id)
    for step_id, execution_id in delays_due:
        _wake(engine, execution_id, step_id)
    for approval_id, execution_id in approvals_due:
        _expire_approval(engine, execution_id, approval_id)
    for execution_id in overdue:
        _time_out(engine, execution_id)
    pruned = 0
    if _next_prune["at"] is None or now >= _next_prune["at"]:
        pruned = prune_events(engine, now)
        _next_prune["at"] = now if pruned == PRUNE_BATCH else now + PRUNE_EVERY   # a full batch: more to do
    return len(to_send) + len(expired_leases) + len(delays_due) + len(approvals_due) + len(overdue) + pruned


def prune_events(engine: Engine, now: datetime) -> int:
    """Delete up to PRUNE_BATCH events of executions that finished before the retention period;
    the executions and their steps stay. Returns how many went."""
    if engine.settings.event_retention_days <= 0:
        return 0
    cutoff = now - timedelta(days=engine.settings.event_retention_days)
    finished = select(Execution.id).where(Execution.status.in_([s.value for s in EXECUTION_TERMINAL]),
                                          Execution.completed_at < cutoff)
    with engine.sessions.begin() as session:
        ids = session.scalars(select(ExecutionEvent.id).where(
            ExecutionEvent.created_at < cutoff, ExecutionEvent.execution_id.in_(finished)).limit(PRUNE_BATCH)).all()
        if ids:
            session.execute(delete(ExecutionEvent).where(ExecutionEvent.id.in_(ids)))
            log.info("deleted %d event(s) of executions finished before %s", len(ids), cutoff.isoformat())
    return len(ids)


def _resend(engine: Engine, execution_id: uuid.UUID, step_id: uuid.UUID, stale) -> None:
    with engine.transaction() as (session, outbox):
        execution = lock_execution(session, execution_id)
        step = session.get(ExecutionStep, step_id, populate_existing=True)
        if step.status != S.QUEUED or execution.status not in (E.PENDING, E.RUNNING):
            return
        if step.dispatched_at is not None and step.dispatched_at >= stale:
            return  # another sweeper sent it meanwhile
        if step.dispatched_at is not None:
            log.warning("step %s of %s queued since %s without starting; sending its message again",
                        step.node_id, execution_id, step.dispatched_at)
        step.dispatched_at = utcnow()
        outbox.messages.append(engine._message(execution, step, engine.definition(session, execution)))


def _recover(engine: Engine, execution_id: uuid.UUID, step_id: uuid.UUID) -> None:
    with engine.transaction() as (session, outbox):
        execution = lock_execution(session, execution_id)
        step = session.get(ExecutionStep, step_id, populate_existing=True)
        if step.status != S.RUNNING or step.lease_expires_at is None or step.lease_expires_at >= utcnow():
            return
        send = execution.status == E.RUNNING
        move_step(session, execution, step, S.QUEUED,
                  f"worker {step.worker or '?'} lost during attempt {step.attempt}; recovered as attempt {step.attempt + 1}",
                  attempt=step.attempt + 1, not_before=None, worker=None, celery_task_id=None,
                  dispatched_at=utcnow() if send else None)
        if send:
            outbox.messages.append(engine._message(execution, step, engine.definition(session, execution)))


def _wake(engine: Engine, execution_id: uuid.UUID, step_id: uuid.UUID) -> None:
    with engine.transaction() as (session, outbox):
        execution = lock_execution(session, execution_id)
        step = session.get(ExecutionStep, step_id, populate_existing=True)
        if step.status != S.WAITING or step.not_before is None or step.not_before > utcnow():
            return
        move_step(session, execution, step, S.COMPLETED, "delay elapsed")
        engine._advance(session, execution, outbox)


def _expire_approval(engine: Engine, execution_id: uuid.UUID, approval_id: uuid.UUID) -> None:
    with engine.transaction() as (session, outbox):
        execution = lock_execution(session, execution_id)
        approval = session.get(HumanApproval, approval_id, populate_existing=True)
        if approval.status != ApprovalStatus.PENDING or approval.expires_at > utcnow():
            return
        step = session.get(ExecutionStep, approval.step_id, populate_existing=True)
        if step.status != S.WAITING:
            approval.status = ApprovalStatus.EXPIRED.value
            return
        resolve_approval(engine, session, outbox, execution, step, approval, ApprovalStatus.EXPIRED, {})


def _time_out(engine: Engine, execution_id: uuid.UUID) -> None:
    with engine.transaction() as (session, outbox):
        execution = lock_execution(session, execution_id)
        if execution.status not in EXECUTION_ACTIVE or execution.deadline_at is None or execution.deadline_at > utcnow():
            return
        engine._end(session, execution, outbox, E.TIMED_OUT,
                    f"execution exceeded its timeout of {engine.definition(session, execution).timeout_seconds}s")
