"""Figures about the database's state, computed when they are asked for (GET /metrics)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from orchestrator.db import Execution, ExecutionStep
from orchestrator.states import ExecutionStatus, StepStatus

# Upper bounds, in seconds, of the step-duration histogram's buckets.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


@dataclass(frozen=True)
class Durations:
    """A cumulative histogram of finished steps' durations for one node type."""

    buckets: list[tuple[float, int]]   # (upper bound in seconds, steps at or under it)
    count: int
    sum_seconds: float


def executions_by_status(session: Session) -> dict[str, int]:
    counts = dict(session.execute(select(Execution.status, func.count()).group_by(Execution.status)).all())
    return {status.value: counts.get(status.value, 0) for status in ExecutionStatus}


def steps_queued(session: Session) -> int:
    return session.scalar(select(func.count()).where(ExecutionStep.status == StepStatus.QUEUED))


def step_durations(session: Session) -> dict[str, Durations]:
    """Per node type, over every step that ran to an end."""
    under = [func.sum(case((ExecutionStep.duration_ms <= bound * 1000, 1), else_=0)) for bound in DURATION_BUCKETS]
    rows = session.execute(
        select(ExecutionStep.node_type, func.count(), func.sum(ExecutionStep.duration_ms), *under)
        .where(ExecutionStep.duration_ms.is_not(None)).group_by(ExecutionStep.node_type))
    return {node_type: Durations(list(zip(DURATION_BUCKETS, (int(n) for n in counts))), count, total_ms / 1000)
            for node_type, count, total_ms, *counts in rows}
