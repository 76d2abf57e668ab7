"""The state machines of DESIGN section 3 as one explicit table; nothing else writes a status.

Every transition appends an ``execution_events`` row with the execution's next ``seq`` in
the same transaction. The caller holds the execution row lock (see ``lock_execution``).
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, event, insert, inspect, select, text
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
        "id": uuid.uuid4(), "created_at": utcnow(), "execution_id": execution.id, "seq": execution.event_seq, "event_type": event_type, "node_id": node_id,
        "attempt": attempt, "message": message, "data": data,
    })


@event.listens_for(Session, "after_flush")
def _insert_events(session: Session, _context) -> None:
    # The flush has written the execution rows (event_seq), so the events' foreign key holds.
    rows = session.info.pop(_PENDING_EVENTS, None)
    if rows:
        session.connection().execute(insert(ExecutionEvent), rows)


def _changed_columns(execution: Execution) -> dict[str, Any]:
    """The execution's changed column values, by attribute key."""
    state = inspect(execution)
    return {attr.key: state.attrs[attr.key].history.added[0]
            for attr in state.mapper.column_attrs if state.attrs[attr.key].history.added}


_EVENT_COLUMNS = ("id", "execution_id", "seq", "event_type", "node_id", "attempt", "message", "data", "created_at")
# One statement text per set of changed columns (a handful on the hot path), so that it is
# cached and prepared: the events travel as one JSON array, whatever their number.
_UPDATE_WITH_EVENTS: dict[frozenset[str], Any] = {}


def _update_with_events(keys: frozenset[str]):
    statement = _UPDATE_WITH_EVENTS.get(keys)
    if statement is None:
        columns = {key: Execution.__mapper__.attrs[key].columns[0] for key in sorted(keys)}
        statement = text(
            "WITH changed_execution AS (UPDATE executions SET "
            + ", ".join(f"{column.name} = :{key}" for key, column in columns.items())
            + " WHERE id = :execution_id) INSERT INTO execution_events (" + ", ".join(_EVENT_COLUMNS) + ") "
            "SELECT " + ", ".join(_EVENT_COLUMNS) + " FROM jsonb_to_recordset(CAST(:events AS jsonb)) AS e("
            "id uuid, execution_id uuid, seq integer, event_type text, node_id text, attempt integer, "
            "message text, data jsonb, created_at timestamptz)"
        ).bindparams(*(bindparam(key, type_=column.type) for key, column in columns.items()),
                     bindparam("execution_id", type_=Execution.__table__.c.id.type))
        _UPDATE_WITH_EVENTS[keys] = statement
    return statement


def _event_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps([{k: (str(v) if isinstance(v, (uuid.UUID, datetime)) else v) for k, v in row.items()}
                       for row in rows])


@event.listens_for(Session, "before_commit")
def _write_executions_with_events(session: Session) -> None:
    """On PostgreSQL, before the commit's flush: a changed execution row and its pending events
    in one statement (a data-modifying CTE), so that an engine transaction costs one round trip
    less and no unit-of-work flush. The attributes are then set as committed values, so the
    flush does not write them again. Elsewhere the flush writes both, as it always does."""
    pending = session.info.get(_PENDING_EVENTS)
    if not pending or session.get_bind().dialect.name != "postgresql":
        return
    for execution in [obj for obj in session.dirty if isinstance(obj, Execution)]:
        events = [row for row in pending if row["execution_id"] == execution.id]
        changed = _changed_columns(execution)
        if not events or not changed:
            continue
        changed["updated_at"] = utcnow()
        session.connection().execute(_update_with_events(frozenset(changed)),
                                     {**changed, "execution_id": execution.id, "events": _event_json(events)})
        for key, value in changed.items():
            set_committed_value(execution, key, value)
        pending = [row for row in pending if row["execution_id"] != execution.id]
    session.info[_PENDING_EVENTS] = pending


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
