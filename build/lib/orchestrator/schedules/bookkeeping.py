"""What a schedule remembers of its runs (seed 001), and pausing itself after repeated failures."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from orchestrator.db import Execution, ScheduledWorkflow
from orchestrator.states import ExecutionStatus as E, ScheduleStatus

log = logging.getLogger(__name__)

# Outcomes that count towards max_retries; a cancelled run is someone's decision, not a failure.
FAILURES = frozenset({E.FAILED, E.TIMED_OUT})


def on_execution_finished(session: Session, execution: Execution) -> None:
    """Record how a scheduled execution ended; called in the transaction that ends it."""
    schedule = session.get(ScheduledWorkflow, execution.schedule_id, with_for_update=True, populate_existing=True)
    if schedule is not None:   # deleted since it fired
        record_outcome(schedule, E(execution.status), execution.error_message, execution.completed_at)


def record_outcome(schedule: ScheduledWorkflow, status: E, error: str | None, at: datetime) -> None:
    """A run ended (or could not start): a completion resets the failure count, a failure adds one,
    and max_retries failures in a row pause the schedule (0: never)."""
    schedule.last_execution_at = at
    schedule.last_execution_status = status.value
    schedule.last_error_message = error
    if status is E.COMPLETED:
        schedule.consecutive_failures = 0
    if status not in FAILURES:
        return
    schedule.consecutive_failures += 1
    if schedule.status == ScheduleStatus.ACTIVE and 0 < schedule.max_retries <= schedule.consecutive_failures:
        pause(schedule, f"paused after {schedule.consecutive_failures} consecutive failed runs "
                        f"(max_retries {schedule.max_retries}); last error: {error}")
        log.warning("schedule %s: %s", schedule.id, schedule.paused_reason)


def pause(schedule: ScheduledWorkflow, reason: str) -> None:
    schedule.status = ScheduleStatus.PAUSED.value
    schedule.paused_reason = reason
    schedule.next_run_at = None
