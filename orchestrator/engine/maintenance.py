"""The periodic sweep: what no message can be trusted with (DESIGN sections 4 and 9).

Re-sends queued steps whose message may be lost or whose backoff has passed, recovers
running steps whose lease expired (a vanished worker: the next attempt, not counted as a
failure), wakes finished delays, expires approvals, times out executions and cancels the
open children of parents that ended. Every item is
its own ``Transaction`` and re-checks the row under the execution lock, so several sweepers
(one per worker) may run at once. About once an hour it also deletes the events of
executions that finished before the retention period (seed 001: 30 days) and runs the
``maintenance`` hooks (the LLM ledger's roll-up).
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import aliased

from orchestrator import metrics
from orchestrator.db import Execution, ExecutionEvent, ExecutionStep, HumanApproval
from orchestrator.db.types import utcnow
from orchestrator.engine.control import resolve_approval
from orchestrator.engine.core import MAX_LOST_WORKERS, Engine
from orchestrator.engine.transaction import Transaction
from orchestrator.states import (
    EXECUTION_ACTIVE, EXECUTION_TERMINAL, ApprovalStatus, ExecutionStatus as E, StepStatus as S,
)

log = logging.getLogger(__name__)
BATCH = 200
PRUNE_BATCH = 5000
PRUNE_EVERY = timedelta(hours=1)
# A message sent with a countdown (a short backoff or turn) that a worker found early and
# dropped leaves its step queued past due: sent again this long after it fell due.
EARLY_DROP_GRACE = timedelta(seconds=5)


def sweep(engine: Engine) -> int:
    """One pass; returns how many rows it acted on.

    Expired leases are recovered only once the database server has been up for a lease
    period: while it was away no worker could renew a lease, and a step whose worker is alive
    is renewed within a third of a lease period of the server's return."""
    now = utcnow()
    stale = now - timedelta(seconds=engine.settings.requeue_after_seconds)
    with engine.sessions() as session:
        uptime = engine.sql.uptime(session.connection())
        leases_due = uptime is None or uptime >= engine.settings.lease_seconds
        to_send = session.execute(
            select(ExecutionStep.id, ExecutionStep.execution_id)
            .join(Execution, Execution.id == ExecutionStep.execution_id)
            .where(ExecutionStep.status == S.QUEUED, Execution.status.in_([E.PENDING, E.RUNNING]),
                   or_(and_(ExecutionStep.dispatched_at.is_(None),
                            or_(ExecutionStep.not_before.is_(None), ExecutionStep.not_before <= now)),
                       ExecutionStep.dispatched_at < stale,
                       and_(ExecutionStep.dispatched_at < ExecutionStep.not_before,
                            ExecutionStep.not_before < now - EARLY_DROP_GRACE)))
            .limit(BATCH)).all()
        expired_leases = session.execute(
            select(ExecutionStep.id, ExecutionStep.execution_id)
            .where(ExecutionStep.status == S.RUNNING, ExecutionStep.lease_expires_at < now).limit(BATCH)).all() \
            if leases_due else []
        delays_due = session.execute(
            select(ExecutionStep.id, ExecutionStep.execution_id)
            .where(ExecutionStep.status == S.WAITING, ExecutionStep.not_before <= now).limit(BATCH)).all()
        approvals_due = session.execute(
            select(HumanApproval.id, HumanApproval.execution_id, HumanApproval.step_id)
            .where(HumanApproval.status == ApprovalStatus.PENDING, HumanApproval.expires_at <= now)
            .limit(BATCH)).all()
        overdue = session.scalars(
            select(Execution.id).where(Execution.status.in_([s.value for s in EXECUTION_ACTIVE]),
                                       Execution.deadline_at <= now).limit(BATCH)).all()
        parents = aliased(Execution)
        orphans = session.scalars(
            select(Execution.id).join(parents, parents.id == Execution.parent_execution_id)
            .where(Execution.status.in_([s.value for s in EXECUTION_ACTIVE]),
                   parents.status.in_([s.value for s in EXECUTION_TERMINAL])).limit(BATCH)).all()
    for step_id, execution_id in to_send:
        engine.atomic(execution_id, partial(_resend, step_id=step_id, stale=stale))
    for step_id, execution_id in expired_leases:
        engine.atomic(execution_id, partial(_recover, step_id=step_id))
    for step_id, execution_id in delays_due:
        engine.atomic(execution_id, partial(_wake, step_id=step_id))
    for approval_id, execution_id, step_id in approvals_due:
        engine.atomic(execution_id, partial(_expire_approval, approval_id=approval_id, step_id=step_id))
    for execution_id in overdue:
        engine.atomic(execution_id, _time_out)
    for execution_id in orphans:
        engine.atomic(execution_id, _cancel_orphan)
    pruned = 0
    if engine.next_prune_at is None or now >= engine.next_prune_at:
        pruned = prune_events(engine, now)
        more = [hook(engine) for hook in engine.hooks.maintenance]
        engine.next_prune_at = now if pruned == PRUNE_BATCH or any(more) else now + PRUNE_EVERY   # more to do
    return (len(to_send) + len(expired_leases) + len(delays_due) + len(approvals_due) + len(overdue) + len(orphans)
            + pruned)


def next_due(engine: Engine) -> datetime | None:
    """When the next parked step falls due (a delay, or a turn or retry left to the sweeper),
    so that the sweeper can sleep until then rather than a whole interval."""
    with engine.sessions() as session:
        return session.scalar(select(func.min(ExecutionStep.not_before)).where(
            ExecutionStep.status.in_([S.WAITING.value, S.QUEUED.value]), ExecutionStep.not_before > utcnow()))


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


def _resend(txn: Transaction, step_id: uuid.UUID, stale: datetime) -> None:
    step = txn.step(step_id)
    if step is None or step.status != S.QUEUED or txn.execution.status not in (E.PENDING, E.RUNNING):
        return
    dropped_early = step.dispatched_at is not None and step.not_before is not None and \
        step.dispatched_at < step.not_before < txn.now - EARLY_DROP_GRACE
    if step.dispatched_at is not None and step.dispatched_at >= stale and not dropped_early:
        return  # another sweeper sent it meanwhile
    if step.dispatched_at is not None:
        txn.outbox.callbacks.append(lambda: metrics.step_recovered("requeued"))
        log.warning("step %s of %s queued since %s without starting; sending its message again",
                    step.node_id, txn.execution.id, step.dispatched_at)
    txn.dispatch(step)


def _recover(txn: Transaction, step_id: uuid.UUID) -> None:
    step = txn.step(step_id)
    if step is None or step.status != S.RUNNING or step.lease_expires_at is None or step.lease_expires_at >= txn.now:
        return
    lost = step.attempt - step.failed_attempts     # attempts that ended with their worker gone, this one too
    if lost >= MAX_LOST_WORKERS:
        txn.fail_attempt(step, f"worker {step.worker or '?'} lost during attempt {step.attempt}, the {lost}th "
                               "time in a row for this step (killed by its hard time limit, or crashing on it)",
                         retryable=False)
        return
    txn.outbox.callbacks.append(lambda: metrics.step_recovered("lease_expired"))
    txn.queue(step, f"worker {step.worker or '?'} lost during attempt {step.attempt}; "
                    f"recovered as attempt {step.attempt + 1}", attempt=step.attempt + 1, not_before=None)


def _wake(txn: Transaction, step_id: uuid.UUID) -> None:
    step = txn.step(step_id)
    if step is not None:
        txn.wake(step)


def _expire_approval(txn: Transaction, approval_id: uuid.UUID, step_id: uuid.UUID) -> None:
    current = txn.conn.execute(select(HumanApproval.status, HumanApproval.expires_at)
                               .where(HumanApproval.id == approval_id)).one()
    if current.status != ApprovalStatus.PENDING or current.expires_at > txn.now:
        return
    resolve_approval(txn, approval_id, step_id, ApprovalStatus.EXPIRED, {})


def _time_out(txn: Transaction) -> None:
    execution = txn.execution
    if E(execution.status) not in EXECUTION_ACTIVE or execution.deadline_at is None or execution.deadline_at > txn.now:
        return
    txn.end(E.TIMED_OUT, f"execution exceeded its timeout of {txn.definition.timeout_seconds}s")


def _cancel_orphan(txn: Transaction) -> None:
    """A child whose parent ended without cancelling it (the process died after the commit)."""
    if E(txn.execution.status) in EXECUTION_ACTIVE:
        txn.end(E.CANCELLED, "cancelled: its parent execution ended")
