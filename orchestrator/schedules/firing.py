"""Firing due schedules: what the beat process does on every tick.

Each due schedule fires in its own transaction that locks the schedule row, inserts the
``schedule_fires`` row of the slot (unique per schedule and slot) and creates the execution
through ``services.executions.create``. A second beat process, a restart or a retry that
reaches the same slot loses on the lock or on the unique row and fires nothing.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator import metrics
from orchestrator.db import ScheduledWorkflow, ScheduleFire, User
from orchestrator.db.types import utcnow
from orchestrator.engine import Engine, Outbox
from orchestrator.schedules.bookkeeping import record_outcome
from orchestrator.schedules.cron import last_slot, next_run
from orchestrator.services import executions, limits
from orchestrator.services.errors import DomainError
from orchestrator.states import ExecutionStatus, MisfirePolicy, ScheduleStatus, Trigger

log = logging.getLogger(__name__)

# A slot fired later than this after its time was missed (the beat was down or stuck), and
# the misfire policy decides: run_once fires the latest missed slot once, skip fires none.
MISFIRE_GRACE = timedelta(seconds=60)


def fire_due(engine: Engine, now: datetime | None = None) -> datetime | None:
    """Fire every active schedule whose next slot is due; returns when the next one is due."""
    now = now or utcnow()
    with engine.sessions() as session:
        due = session.scalars(select(ScheduledWorkflow.id).where(
            ScheduledWorkflow.status == ScheduleStatus.ACTIVE, ScheduledWorkflow.next_run_at <= now,
        ).order_by(ScheduledWorkflow.next_run_at)).all()
    for schedule_id in due:
        try:
            _fire(engine, schedule_id, now)
        except Exception:  # one broken schedule must not hold up the others; it is tried again next tick
            log.exception("schedule %s: firing failed", schedule_id)
    with engine.sessions() as session:
        return session.scalar(select(func.min(ScheduledWorkflow.next_run_at))
                              .where(ScheduledWorkflow.status == ScheduleStatus.ACTIVE))


def _fire(engine: Engine, schedule_id: uuid.UUID, now: datetime) -> None:
    with engine.transaction() as (session, outbox):
        schedule = session.get(ScheduledWorkflow, schedule_id, with_for_update=True, populate_existing=True)
        if (schedule is None or schedule.status != ScheduleStatus.ACTIVE or schedule.next_run_at is None
                or schedule.next_run_at > now):
            return   # deleted, paused, changed or fired by another beat since it was read
        slot = last_slot(schedule.cron_expression, schedule.timezone, min(now, schedule.end_at or now))
        if now - slot > MISFIRE_GRACE:
            metrics.schedule_misfired(schedule.misfire_policy)
        if now - slot > MISFIRE_GRACE and schedule.misfire_policy == MisfirePolicy.SKIP:
            log.info("schedule %s: missed slots up to %s skipped (misfire policy skip)", schedule.id, slot)
        else:
            _start(engine, session, outbox, schedule, slot, now)
        schedule.next_run_at = next_run(schedule.cron_expression, schedule.timezone, now,
                                        schedule.start_at, schedule.end_at)


def _start(engine: Engine, session: Session, outbox: Outbox, schedule: ScheduledWorkflow, slot: datetime,
           now: datetime) -> None:
    fire = ScheduleFire(schedule_id=schedule.id, slot_at=slot)
    try:
        with session.begin_nested():
            session.add(fire)
    except IntegrityError:
        log.info("schedule %s: slot %s was already fired", schedule.id, slot)
        return
    owner = session.get_one(User, schedule.owner_id)
    try:
        with session.begin_nested():
            limits.take_execution_slot(session, owner, now)    # a scheduled run counts like a submitted one
            execution = executions.create(engine, session, outbox, owner, schedule.workflow_id, schedule.input,
                                          trigger=Trigger.SCHEDULE, schedule_id=schedule.id)
    except DomainError as exc:
        detail = f"{exc.message}: {exc.errors}" if exc.errors else exc.message
        record_outcome(schedule, ExecutionStatus.FAILED, f"the run could not start: {detail}", now)
        log.warning("schedule %s: slot %s could not start: %s", schedule.id, slot, detail)
        return
    fire.execution_id = execution.id
    metrics.schedule_fired((now - slot).total_seconds())
    log.info("schedule %s: slot %s fired execution %s", schedule.id, slot, execution.id)
