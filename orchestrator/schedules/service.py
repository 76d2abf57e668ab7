"""Cron schedules of workflows: the use cases the API calls.

A schedule's ``next_run_at`` is its next slot inside its [start_at, end_at] window, computed
when it is created, when its timing changes and when it resumes; null while it is paused or
once its window has closed. Slots missed while paused are not caught up.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing
from orchestrator.db import Execution, ScheduledWorkflow, User
from orchestrator.db.types import utcnow
from orchestrator.definitions import InputValidationError, validate_input
from orchestrator.engine import Engine
from orchestrator.engine.store import read_definition
from orchestrator.schedules import cron
from orchestrator.schedules.bookkeeping import pause
from orchestrator.services import audit, executions, limits
from orchestrator.services.errors import Conflict, Invalid, owned
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, list_owned
from orchestrator.services.workflows import get_version, get_workflow
from orchestrator.states import MisfirePolicy, ScheduleStatus, Trigger, WorkflowStatus

# Changing one of these moves next_run_at.
TIMING = frozenset({"cron_expression", "timezone", "start_at", "end_at"})


def create_schedule(session: Session, keyring: KeyRing, owner: User, workflow_id: uuid.UUID, *,
                    cron_expression: str, timezone: str = "UTC", name: str | None = None, input: Any = None,
                    start_at: datetime | None = None, end_at: datetime | None = None,
                    misfire_policy: str = MisfirePolicy.RUN_ONCE.value, max_retries: int = 3) -> ScheduledWorkflow:
    workflow = get_workflow(session, owner, workflow_id)
    if workflow.status == WorkflowStatus.ARCHIVED:
        raise Conflict(f"workflow {workflow_id} is archived")
    schedule = ScheduledWorkflow(
        id=uuid.uuid4(), workflow_id=workflow.id, owner_id=owner.id, name=name, cron_expression=cron_expression,
        timezone=timezone, status=ScheduleStatus.ACTIVE.value, input={} if input is None else input,
        start_at=start_at, end_at=end_at, misfire_policy=misfire_policy, max_retries=max_retries,
        consecutive_failures=0,
    )
    _check(session, keyring, owner, schedule)
    _plan(schedule)
    session.add(schedule)
    session.flush()
    return schedule


def get_schedule(session: Session, owner: User, schedule_id: uuid.UUID, *, lock: bool = False) -> ScheduledWorkflow:
    return owned(session, ScheduledWorkflow, schedule_id, owner, "schedule", with_for_update=lock,
                 populate_existing=lock)


def list_schedules(session: Session, owner: User, *, workflow_id: uuid.UUID | None = None,
                   status: str | None = None, cursor: str | None = None,
                   limit: int = DEFAULT_LIMIT) -> Page[ScheduledWorkflow]:
    return list_owned(session, ScheduledWorkflow, owner, cursor, limit, workflow_id=workflow_id, status=status)


def update_schedule(session: Session, keyring: KeyRing, owner: User, schedule_id: uuid.UUID,
                    **changes: Any) -> ScheduledWorkflow:
    """Change any of create_schedule's fields; a new timing takes effect from now."""
    schedule = get_schedule(session, owner, schedule_id, lock=True)
    for field, value in changes.items():
        setattr(schedule, field, {} if field == "input" and value is None else value)
    _check(session, keyring, owner, schedule)
    if TIMING & changes.keys() and schedule.status == ScheduleStatus.ACTIVE:
        _plan(schedule)
    return schedule


def delete_schedule(session: Session, owner: User, schedule_id: uuid.UUID) -> None:
    """Delete a schedule and its fired slots; its executions stay, without the link.

    The executions are unlinked before the schedule row is locked: an ending execution holds
    its own row and then updates its schedule, so taking the two in the other order (the
    delete's ON DELETE SET NULL) could deadlock with it."""
    get_schedule(session, owner, schedule_id)
    session.execute(update(Execution).where(Execution.schedule_id == schedule_id).values(schedule_id=None))
    session.delete(get_schedule(session, owner, schedule_id, lock=True))


def pause_schedule(session: Session, owner: User, schedule_id: uuid.UUID) -> ScheduledWorkflow:
    schedule = get_schedule(session, owner, schedule_id, lock=True)
    if schedule.status == ScheduleStatus.ACTIVE:
        pause(schedule, "paused by its owner")
    return schedule


def resume_schedule(session: Session, owner: User, schedule_id: uuid.UUID) -> ScheduledWorkflow:
    """Active again from now on, with the failure count reset."""
    schedule = get_schedule(session, owner, schedule_id, lock=True)
    if schedule.status == ScheduleStatus.PAUSED:
        schedule.status = ScheduleStatus.ACTIVE.value
        schedule.paused_reason = None
        schedule.consecutive_failures = 0
        _plan(schedule)
    return schedule


def run_now(engine: Engine, owner: User, schedule_id: uuid.UUID) -> Execution:
    """Run the schedule's workflow once now, with its input (trigger ``schedule``, active or
    paused): its outcome is recorded like a fired slot's. Locks as a firing does: the
    schedule's row, the executions-per-minute counter, then the new execution."""
    with engine.transaction() as (session, outbox):
        schedule = get_schedule(session, owner, schedule_id, lock=True)
        limits.take_execution_slot(session, owner)
        execution = executions.create(engine, session, outbox, owner, schedule.workflow_id, schedule.input,
                                      trigger=Trigger.SCHEDULE, schedule_id=schedule.id)
        audit.record(session, "schedule.trigger", "schedule", schedule.id, {"execution_id": str(execution.id)})
    return execution


def _plan(schedule: ScheduledWorkflow) -> None:
    schedule.next_run_at = cron.next_run(schedule.cron_expression, schedule.timezone, utcnow(),
                                         schedule.start_at, schedule.end_at)


def _check(session: Session, keyring: KeyRing, owner: User, schedule: ScheduledWorkflow) -> None:
    """Invalid, naming each bad field: the expression, the zone, the window, the input."""
    errors: dict[str, list[str]] = {}
    for field, check in (("cron_expression", cron.check), ("timezone", cron.zone)):
        try:
            check(getattr(schedule, field))
        except cron.CronError as exc:
            errors[field] = [str(exc)]
    if schedule.start_at and schedule.end_at and schedule.end_at <= schedule.start_at:
        errors["end_at"] = ["must be later than start_at"]
    if not errors:
        try:  # a start_at near year 9999 leaves no slot to plan
            cron.next_run(schedule.cron_expression, schedule.timezone, utcnow(), schedule.start_at, schedule.end_at)
        except cron.CronError as exc:
            errors["start_at"] = [str(exc)]
    version = get_version(session, owner, schedule.workflow_id)
    try:
        validate_input(read_definition(session.connection(), keyring, version.id), schedule.input)
    except InputValidationError as exc:
        errors["input"] = exc.errors
    if errors:
        raise Invalid("; ".join(f"{field}: {problems[0]}" for field, problems in errors.items()), errors)
