"""Schedules end to end: real PostgreSQL, Redis, `celery worker` and `celery beat` processes."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, update

from orchestrator.db import Execution, ScheduledWorkflow, ScheduleFire
from orchestrator.db.types import utcnow
from orchestrator.schedules import service
from orchestrator.services import workflows
from orchestrator.states import EXECUTION_TERMINAL
from tests.support.api import workflow_fixture

pytestmark = pytest.mark.integration

EVERY_SECOND = "* * * * * *"
NEW_YEAR = "0 0 0 1 1 *"


@pytest.fixture(scope="module")
def beat(stack):
    stack[3].start_beat("beat1")


def new_schedule(stack, definition="chain", **fields) -> ScheduledWorkflow:
    engine, owner, *_ = stack
    with engine.sessions.begin() as s:
        workflow = workflows.create_workflow(s, engine.keyring, owner, workflow_fixture(definition))
        return service.create_schedule(s, engine.keyring, owner, workflow.id, **{"input": {"n": 4}, **fields})


def change(stack, schedule, action, **fields) -> ScheduledWorkflow:
    engine, owner, *_ = stack
    with engine.sessions.begin() as s:
        if action is service.update_schedule:
            return action(s, engine.keyring, owner, schedule.id, **fields)
        return action(s, owner, schedule.id)


def current(stack, schedule) -> ScheduledWorkflow:
    with stack[0].sessions() as s:
        return s.get(ScheduledWorkflow, schedule.id)


def runs(stack, schedule) -> list[Execution]:
    with stack[0].sessions() as s:
        return s.scalars(select(Execution).where(Execution.workflow_id == schedule.workflow_id)
                         .order_by(Execution.created_at)).all()


def slots(stack, schedule) -> list[datetime]:
    with stack[0].sessions() as s:
        return s.scalars(select(ScheduleFire.slot_at).where(ScheduleFire.schedule_id == schedule.id)
                         .order_by(ScheduleFire.slot_at)).all()


def poll(stack, what, probe, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{stack[3].logs()}")


def settled(stack, schedule, seconds=1.5) -> list[Execution]:
    """The runs once nothing new has fired for ``seconds``."""
    before = runs(stack, schedule)
    time.sleep(seconds)
    assert len(runs(stack, schedule)) == len(before)
    return before


def test_a_schedule_fires_and_changes_show_without_a_restart(stack, beat):
    schedule = new_schedule(stack, cron_expression=EVERY_SECOND)
    done = poll(stack, "a completed run", lambda: [e for e in runs(stack, schedule) if e.status == "completed"])
    assert (done[0].trigger, done[0].input, done[0].output) == ("schedule", {"n": 4}, {"result": 50})
    assert done[0].schedule_id == schedule.id

    change(stack, schedule, service.pause_schedule)
    paused = len(settled(stack, schedule))

    change(stack, schedule, service.update_schedule, cron_expression="*/2 * * * * *")
    change(stack, schedule, service.resume_schedule)
    poll(stack, "runs after resuming", lambda: len(runs(stack, schedule)) >= paused + 2)
    assert {slot.second % 2 for slot in slots(stack, schedule)[paused:]} == {0}

    change(stack, schedule, service.delete_schedule)
    assert all(e.schedule_id is None for e in settled(stack, schedule))


def test_beat_touches_its_alive_file_on_every_tick(stack, beat):
    alive = stack.engine.settings.data_dir / "beat.alive"
    deadline = time.monotonic() + 10
    while not alive.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    first = alive.stat().st_mtime
    while alive.stat().st_mtime == first and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive.stat().st_mtime > first and time.time() - alive.stat().st_mtime < 5


def test_two_beat_processes_fire_each_slot_once(stack, beat):
    stack[3].start_beat("beat2")
    try:
        schedule = new_schedule(stack, cron_expression=EVERY_SECOND)
        started = utcnow()
        poll(stack, "five slots", lambda: len(slots(stack, schedule)) >= 5)
        change(stack, schedule, service.pause_schedule)
        elapsed = (utcnow() - started).total_seconds()
    finally:
        stack[3].kill("beat2")
    fired, executions = slots(stack, schedule), runs(stack, schedule)
    assert len(executions) == len(fired) == len(set(fired)) <= elapsed + 1
    with stack[0].sessions() as s:
        linked = s.scalar(select(func.count(func.distinct(ScheduleFire.execution_id)))
                          .where(ScheduleFire.schedule_id == schedule.id))
    assert linked == len(executions)


@pytest.mark.parametrize("policy, catch_up", [("run_once", 1), ("skip", 0)])
def test_after_downtime_at_most_one_catch_up_run(stack, beat, policy, catch_up):
    schedule = new_schedule(stack, cron_expression=NEW_YEAR, misfire_policy=policy)
    next_year = schedule.next_run_at
    this_year = next_year.replace(year=next_year.year - 1)
    with stack[0].sessions.begin() as s:     # the beat was down for three New Years
        s.execute(update(ScheduledWorkflow).where(ScheduledWorkflow.id == schedule.id)
                  .values(next_run_at=datetime(this_year.year - 2, 1, 1, tzinfo=timezone.utc)))
    poll(stack, "the missed slots", lambda: current(stack, schedule).next_run_at == next_year)
    assert slots(stack, schedule) == [this_year][:catch_up]       # only the latest missed slot, once
    if catch_up:
        poll(stack, "the catch-up run", lambda: all(e.status in EXECUTION_TERMINAL for e in runs(stack, schedule)))
    assert [e.status for e in settled(stack, schedule)] == ["completed"] * catch_up


def test_max_retries_consecutive_failures_pause_the_schedule(stack, beat):
    schedule = new_schedule(stack, "fails", cron_expression=EVERY_SECOND, max_retries=2)
    paused = poll(stack, "the schedule to pause itself",
                  lambda: (found := current(stack, schedule)).status == "paused" and found)
    assert paused.paused_reason.startswith("paused after 2 consecutive failed runs (max_retries 2); last error: ")
    assert "node broken failed" in paused.last_error_message
    assert (paused.last_execution_status, paused.next_run_at) == ("failed", None)
    assert all(e.status == "failed" for e in settled(stack, schedule))
