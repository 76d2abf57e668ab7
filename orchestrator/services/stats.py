"""Figures about the database's state at this moment (GET /metrics).

Each is one indexed query whose cost grows with the live rows it counts (active executions,
queued steps, pending approvals, overdue schedules), never with the history: what has
happened is counted as it happens (``orchestrator.metrics``).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orchestrator.db import Execution, ExecutionStep, HumanApproval, ScheduledWorkflow
from orchestrator.states import EXECUTION_ACTIVE, ApprovalStatus, ScheduleStatus, StepStatus


def active_executions(session: Session) -> dict[str, int]:
    """Executions not yet ended, by status (ix_executions_status)."""
    counts = dict(session.execute(select(Execution.status, func.count()).where(
        Execution.status.in_([s.value for s in EXECUTION_ACTIVE])).group_by(Execution.status)).all())
    return {status.value: counts.get(status.value, 0) for status in sorted(EXECUTION_ACTIVE)}


def steps_queued(session: Session) -> int:
    return session.execute(select(func.count()).where(ExecutionStep.status == StepStatus.QUEUED)).scalar_one()


def approvals_pending(session: Session) -> int:
    return session.execute(select(func.count()).where(HumanApproval.status == ApprovalStatus.PENDING)).scalar_one()


def schedule_lag_seconds(session: Session, now: datetime) -> float:
    """How long the most overdue active schedule has been due (0 when none is): beat's lag."""
    oldest = session.scalar(select(func.min(ScheduledWorkflow.next_run_at)).where(
        ScheduledWorkflow.status == ScheduleStatus.ACTIVE, ScheduledWorkflow.next_run_at <= now))
    return max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
