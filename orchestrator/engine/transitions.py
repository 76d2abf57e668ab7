"""The state machines of DESIGN section 3 as one explicit table; nothing else writes a status.

Every transition appends an ``execution_events`` row with the execution's next ``seq`` in
the same transaction. The caller holds the execution row lock (see ``lock_execution``).
"""
from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value

from orchestrator.db import Execution, ExecutionEvent, ExecutionStep
from orchestrator.db.types import utcnow
from orchestrator.schedules import on_execution_finished
from orchestrator.states import EXECUTION_TERMINAL, STEP_TERMINAL, ExecutionStatus as E, StepStatus as S

log = logging.getLogger(__name__)
_PENDING_EVENTS = "orchestrator.pending_events"

EXECUTION_TRANSITIONS: dict[E, frozenset[E]] = {
    E.PENDING: frozenset({E.RUNNING, E.PAUSED, E.FAILED, E.CANCELLED, E.TIMED_OUT}),
    E.RUNNING: frozenset({E.PAUSED, E.COMPLETED, E.FAILED, E.CANCELLED, E.TIMED_OUT}),
    E.PAUSED: frozenset({E.RUNNING, E.FAILED, E.CANCELLED, E.TIMED_OUT}),
    E.COMPLETED: frozenset(),
    E.FAILED: frozenset({E.RUNNING}),      # retry: a new attempt from the failed steps
    E.CANCELLED: frozenset(),
    E.TIMED_OUT: frozenset(),
}

STEP_TRANSITIONS: dict[S, frozenset[S]] = {
    S.PENDING: frozenset({S.QUEUED, S.SKIPPED, S.CANCELLED}),
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED}),
    # running -> queued: a retry (attempt + 1) or a recovered lease
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.WAITING, S.QUEUED, S.CANCELLED}),
    S.WAITING: frozenset({S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset({S.QUEUED}),        # execution retry
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset({S.QUEUED, S.PENDING}),  # execution retry
}


class IllegalTransition(RuntimeError):
    pass


def lock_execution(session: Session, execution_id: uuid.UUID) -> Execution | None:
    """The execution row, locked for this transaction (FOR UPDATE; SQLite: BEGIN IMMEDIATE)."""
    return session.scalars(
        select(Execution).where(Execution.id == execution_id).with_for_update().execution_options(populate_existing=True)
    ).one_or_none()


# Built once (the hot path pays no statement construction). JSON and text columns that no
# transition reads are deferred: loaded on first access if anything does.
_LOCK_STEP = (
    select(Execution, ExecutionStep).join(ExecutionStep, ExecutionStep.execution_id == Execution.id)
    .where(ExecutionStep.id == bindparam("step_id")).with_for_update(of=Execution)
    .options(defer(Execution.input), defer(Execution.output), defer(Execution.meta), defer(Execution.error_traceback),
             defer(ExecutionStep.input), defer(ExecutionStep.output), defer(ExecutionStep.error_traceback))
    .execution_options(populate_existing=True)
)
_STEPS = ExecutionStep.__table__
# SET takes the columns named by the parameters; updated_at is set by its onupdate. The
# WHERE names the state the caller read: a step changed since then is not overwritten.
_UPDATE_STEP = _STEPS.update().where(_STEPS.c.id == bindparam("step_id"), _STEPS.c.status == bindparam("was"),
                                     _STEPS.c.attempt == bindparam("was_attempt"))


class StaleStep(IllegalTransition):
    """The step is no longer in the state this transaction read (a concurrent claim, a
    recovery): nothing was written; the caller rolls back and drops its message or result."""


def lock_step(session: Session, step_id: uuid.UUID) -> tuple[Execution, ExecutionStep] | None:
    """A step and its execution, the execution row locked, in one round trip.

    Under READ COMMITTED, PostgreSQL re-reads only the locked (execution) row after waiting for
    the lock, so the step may be as it was before the transaction that held the lock; the
    conditional UPDATE in ``move_step`` catches that (``StaleStep``)."""
    row = session.execute(_LOCK_STEP, {"step_id": step_id}).one_or_none()
    return None if row is None else (row[0], row[1])


def append_event(
    session: Session,
    execution: Execution,
    event_type: str,
    message: str | None = None,
    *,
    node_id: str | None = None,
    attempt: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """The event row is written by the session's next flush (at the latest, the commit's), all
    of that flush's events in one INSERT: no ORM object per event."""
    execution.event_seq += 1
    session.info.setdefault(_PENDING_EVENTS, []).append({
        "execution_id": execution.id, "seq": execution.event_seq, "event_type": event_type, "node_id": node_id,
        "attempt": attempt, "message": message, "data": data,
    })


@event.listens_for(Session, "after_flush")
def _insert_events(session: Session, _context) -> None:
    # The flush has written the execution rows (event_seq), so the events' foreign key holds.
    rows = session.info.pop(_PENDING_EVENTS, None)
    if rows:
        session.connection().execute(insert(ExecutionEvent), rows)


@event.listens_for(Session, "after_soft_rollback")
def _drop_events(session: Session, _previous) -> None:
    # A savepoint starts with a flush, so whatever is still pending belongs to what rolled back.
    session.info.pop(_PENDING_EVENTS, None)


def move_execution(
    session: Session, execution: Execution, to: E, message: str | None = None, **fields: Any
) -> None:
    current = E(execution.status)
    if to not in EXECUTION_TRANSITIONS[current]:
        raise IllegalTransition(f"execution {execution.id}: {current} -> {to} is not allowed")
    now = utcnow()
    execution.status = to.value
    if to is E.RUNNING and execution.started_at is None:
        execution.started_at = now
    if to in EXECUTION_TERMINAL:
        execution.completed_at = now
        execution.duration_ms = int(((now - (execution.started_at or execution.created_at)).total_seconds()) * 1000)
    elif current in EXECUTION_TERMINAL:
        execution.completed_at = execution.duration_ms = None
    for name, value in fields.items():
        setattr(execution, name, value)
    append_event(session, execution, f"execution_{to.value}", message)
    if to in EXECUTION_TERMINAL and execution.schedule_id is not None:
        on_execution_finished(session, execution)


def move_step(
    session: Session,
    execution: Execution,
    step: ExecutionStep,
    to: S,
    message: str | None = None,
    *,
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """Writes the step row at once with one Core UPDATE (no unit-of-work flush): the object's
    attributes are set as committed values, so a later flush does not write them again and a
    read of the table later in this transaction sees the new status. ``step`` may be a detached
    stand-in (see ``Engine._advance``)."""
    current, was_attempt = S(step.status), step.attempt
    if to not in STEP_TRANSITIONS[current]:
        raise IllegalTransition(f"step {step.node_id} of {execution.id}: {current} -> {to} is not allowed")
    now = utcnow()
    values: dict[str, Any] = {"status": to.value}
    if to is S.QUEUED:
        values.update(queued_at=now, started_at=None, completed_at=None, duration_ms=None, lease_expires_at=None)
    elif to is S.RUNNING:
        values["started_at"] = now
    elif to in STEP_TERMINAL:
        values.update(completed_at=now, lease_expires_at=None)
        if step.started_at is not None:
            values["duration_ms"] = int((now - step.started_at).total_seconds() * 1000)
    values.update(fields)
    written = session.connection().execute(
        _UPDATE_STEP, {**values, "step_id": step.id, "was": current.value, "was_attempt": was_attempt})
    if written.rowcount != 1:
        raise StaleStep(f"step {step.node_id} of {execution.id} is no longer {current} attempt {was_attempt}")
    for name, value in values.items():
        set_committed_value(step, name, value)
    append_event(session, execution, f"step_{to.value}", message, node_id=step.node_id, attempt=step.attempt, data=data)
