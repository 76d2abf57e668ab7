"""Each attempt of each step of an execution, and the turns of each attempt, read from its
event log (a step's row holds only its current attempt).

An attempt starts with its ``step_queued`` event and runs from its first ``step_running``.
It ends with a terminal step event of its own, or (a retry) with the ``step_queued`` event of
the next attempt, whose message says why it failed. Each ``step_turn`` event ends a turn of
a node that takes turns (agents, teams, multi-turn llm nodes); its message says what the
turn did (asked for a tool, called one); so do ``step_waiting`` (for a person or a child) and
a ``step_queued`` of the same attempt (parked, or its worker was lost). The next
``step_running`` starts the next turn.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.db import ExecutionEvent, User
from orchestrator.services.executions import get_execution
from orchestrator.states import STEP_TERMINAL, StepStatus

PREFIX = "step_"


@dataclass
class Turn:
    number: int
    started_at: datetime
    ended_at: datetime | None = None
    note: str | None = None                 # what the turn did, as its step_turn event says

    @property
    def duration_ms(self) -> int | None:
        return _ms(self.started_at, self.ended_at)


@dataclass
class Attempt:
    node_id: str
    attempt: int
    status: str
    queued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    turns: list[Turn] = field(default_factory=list)

    @property
    def duration_ms(self) -> int | None:
        """From its first turn's start to its end (turns and the waits between them)."""
        return _ms(self.started_at, self.ended_at)

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


def _ms(start: datetime | None, end: datetime | None) -> int | None:
    return None if start is None or end is None else max(0, int((end - start).total_seconds() * 1000))


def list_attempts(session: Session, owner: User, execution_id: uuid.UUID) -> list[Attempt]:
    """Every attempt of every step, in the order they were queued."""
    get_execution(session, owner, execution_id)
    events = session.execute(
        select(ExecutionEvent.event_type, ExecutionEvent.node_id, ExecutionEvent.attempt, ExecutionEvent.message,
               ExecutionEvent.created_at)
        .where(ExecutionEvent.execution_id == execution_id, ExecutionEvent.node_id.is_not(None),
               ExecutionEvent.event_type.startswith(PREFIX))
        .order_by(ExecutionEvent.seq)).all()
    return attempts_of(events)


def attempts_of(events) -> list[Attempt]:
    """The attempts that step events (type, node_id, attempt, message, created_at; in order) tell."""
    found: dict[tuple[str, int], Attempt] = {}
    for kind, node_id, number, message, at in events:
        status = kind.removeprefix(PREFIX)
        attempt = found.get((node_id, number or 1))
        if attempt is None:
            attempt = found[(node_id, number or 1)] = Attempt(node_id, number or 1, status, queued_at=at)
            _ended_by_retry(found.get((node_id, (number or 1) - 1)), message, at)
            continue
        _apply(attempt, status, message, at)
    return list(found.values())


def _ended_by_retry(previous: Attempt | None, message: str | None, at: datetime) -> None:
    """A new attempt was queued: the one before it failed (its message says how)."""
    if previous is not None and not previous.ended:
        previous.status, previous.error, previous.ended_at = StepStatus.FAILED.value, message, at
        _end_turn(previous, at, None)


def _apply(attempt: Attempt, status: str, message: str | None, at: datetime) -> None:
    if status == StepStatus.RUNNING:
        attempt.started_at = attempt.started_at or at
        attempt.turns.append(Turn(len(attempt.turns), at))
    elif status in ("turn", StepStatus.QUEUED, StepStatus.WAITING):   # the turn ended: the next one waits
        _end_turn(attempt, at, message)
        status = StepStatus.QUEUED.value if status == "turn" else status
    elif status in STEP_TERMINAL:
        attempt.ended_at = at
        attempt.error = message if status == StepStatus.FAILED else attempt.error
        _end_turn(attempt, at, None)
    attempt.status = status


def _end_turn(attempt: Attempt, at: datetime, note: str | None) -> None:
    if attempt.turns and attempt.turns[-1].ended_at is None:
        attempt.turns[-1].ended_at, attempt.turns[-1].note = at, note
