"""The state machines of DESIGN section 3 as one explicit table; nothing else writes a status.

``Transaction.move_execution`` and ``Transaction.move_step`` check every move against these
tables and append an ``execution_events`` row with the execution's next ``seq``.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from orchestrator.states import STEP_TERMINAL, ExecutionStatus as E, StepStatus as S

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
    # running -> queued: a retry (attempt + 1), a recovered lease, or the node's next turn
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.WAITING, S.QUEUED, S.CANCELLED}),
    # waiting -> queued: a decided approval that the node takes up again as its next turn
    S.WAITING: frozenset({S.COMPLETED, S.FAILED, S.CANCELLED, S.QUEUED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset({S.QUEUED}),        # execution retry
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset({S.QUEUED, S.PENDING}),  # execution retry
}


class IllegalTransition(RuntimeError):
    pass


def check_execution_move(execution_id: uuid.UUID, current: E, to: E) -> None:
    if to not in EXECUTION_TRANSITIONS[current]:
        raise IllegalTransition(f"execution {execution_id}: {current} -> {to} is not allowed")


def check_step_move(execution_id: uuid.UUID, node_id: str, current: S, to: S) -> None:
    if to not in STEP_TRANSITIONS[current]:
        raise IllegalTransition(f"step {node_id} of {execution_id}: {current} -> {to} is not allowed")


def step_values(step: Any, to: S, now: datetime) -> dict[str, Any]:
    """The columns a move to ``to`` sets besides the status (timings and the lease)."""
    values: dict[str, Any] = {"status": to.value}
    if to is S.QUEUED:
        values.update(queued_at=now, started_at=None, completed_at=None, duration_ms=None, lease_expires_at=None,
                      worker=None, celery_task_id=None)
    elif to is S.RUNNING:
        values["started_at"] = now
    elif to in STEP_TERMINAL:
        values.update(completed_at=now, lease_expires_at=None)
        if step.started_at is not None:
            values["duration_ms"] = max(0, int((now - step.started_at).total_seconds() * 1000))
    return values
