"""Schedules on SQLite with an in-process dispatcher and a fixed clock: no servers."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from orchestrator.db import Execution, ScheduledWorkflow, ScheduleFire, User
from orchestrator.db.types import utcnow
from orchestrator.schedules import service
from orchestrator.schedules.firing import MISFIRE_GRACE, fire_due
from orchestrator.services import api_keys, workflows
from orchestrator.services.errors import Invalid, NotFound
from tests.support.api import workflow_fixture
from worker import beat
from orchestrator.config import Settings
from worker.celery_app import create_celery

NOON = "0 0 12 * * *"


def new_schedule(env, definition="chain", **fields):
    engine, _, owner = env
    fields = {"cron_expression": NOON, "input": {"n": 1}, **fields}
    with engine.sessions.begin() as s:
        workflow = workflows.create_workflow(s, engine.keyring, owner, workflow_fixture(definition))
        return service.create_schedule(s, engine.keyring, owner, workflow.id, **fields)


def reload(env, schedule):
    with env[0].sessions() as s:
        return s.get(ScheduledWorkflow, schedule.id)


def set_next_run(env, schedule, when):
    """As if the beat had been down since ``when``."""
    with env[0].sessions.begin() as s:
        s.get(ScheduledWorkflow, schedule.id).next_run_at = when


def runs(env, schedule):
    with env[0].sessions() as s:
        return s.scalars(select(Execution).where(Execution.schedule_id == schedule.id)
                         .order_by(Execution.created_at)).all()


def fires(env, schedule):
    with env[0].sessions() as s:
        return s.scalars(select(ScheduleFire).where(ScheduleFire.schedule_id == schedule.id)
                         .order_by(ScheduleFire.slot_at)).all()


def test_a_due_slot_fires_one_execution_with_the_schedule_input(env):
    schedule = new_schedule(env)
    slot = schedule.next_run_at
    assert slot > utcnow() and (slot.hour, slot.minute, slot.second) == (12, 0, 0)
    assert fire_due(env[0], slot - timedelta(seconds=1)) == slot    # not yet due; says when it is
    assert runs(env, schedule) == []
    assert fire_due(env[0], slot) == slot + timedelta(days=1)
    [execution] = runs(env, schedule)
    assert (execution.trigger, execution.input, execution.schedule_id) == ("schedule", {"n": 1}, schedule.id)
    assert [(f.slot_at, f.execution_id) for f in fires(env, schedule)] == [(slot, execution.id)]
    env[1].drain(env[0])
    assert reload(env, schedule).last_execution_status == "completed"
    fire_due(env[0], slot + timedelta(seconds=1))                   # the next tick: nothing more
    assert len(runs(env, schedule)) == 1


def test_a_slot_reached_again_does_not_fire_twice(env):
    """A second beat, a restart or a retry that comes back to a fired slot loses on its unique row."""
    schedule = new_schedule(env)
    slot = schedule.next_run_at
    fire_due(env[0], slot)
    set_next_run(env, schedule, slot)
    fire_due(env[0], slot + timedelta(seconds=2))
    assert len(runs(env, schedule)) == 1 and len(fires(env, schedule)) == 1
    assert reload(env, schedule).next_run_at == slot + timedelta(days=1)


@pytest.mark.parametrize("policy, expected_runs", [("run_once", 1), ("skip", 0)])
def test_after_downtime_at_most_one_catch_up_run(env, policy, expected_runs):
    schedule = new_schedule(env, misfire_policy=policy)
    today = schedule.next_run_at
    set_next_run(env, schedule, today - timedelta(days=5))        # five missed slots
    fire_due(env[0], today + timedelta(hours=2))
    assert len(runs(env, schedule)) == expected_runs
    assert [f.slot_at for f in fires(env, schedule)] == [today][:expected_runs]   # the latest missed slot
    assert reload(env, schedule).next_run_at == today + timedelta(days=1)


def test_a_slot_late_by_less_than_the_grace_fires_even_under_skip(env):
    schedule = new_schedule(env, misfire_policy="skip")
    fire_due(env[0], schedule.next_run_at + MISFIRE_GRACE)
    assert len(runs(env, schedule)) == 1


def test_the_window_start_and_end(env):
    start = utcnow().replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=10)
    schedule = new_schedule(env, start_at=start, end_at=start + timedelta(days=1))
    assert schedule.next_run_at == start
    fire_due(env[0], start)
    assert reload(env, schedule).next_run_at == start + timedelta(days=1)
    fire_due(env[0], start + timedelta(days=1, seconds=1))
    assert len(runs(env, schedule)) == 2
    assert reload(env, schedule).next_run_at is None                  # the window has closed
    assert fire_due(env[0], start + timedelta(days=5)) is None
    assert len(runs(env, schedule)) == 2


def test_paused_schedules_do_not_fire_and_resume_from_now(env):
    engine, _, owner = env
    schedule = new_schedule(env)
    slot = schedule.next_run_at
    with engine.sessions.begin() as s:
        paused = service.pause_schedule(s, owner, schedule.id)
        assert (paused.status, paused.paused_reason, paused.next_run_at) == ("paused", "paused by its owner", None)
    fire_due(engine, slot + timedelta(days=3))
    assert runs(env, schedule) == []
    with engine.sessions.begin() as s:
        resumed = service.resume_schedule(s, owner, schedule.id)
        assert (resumed.status, resumed.paused_reason, resumed.next_run_at) == ("active", None, slot)


def test_changing_the_timing_moves_next_run_at_and_changing_the_input_does_not(env):
    engine, _, owner = env
    schedule = new_schedule(env)
    with engine.sessions.begin() as s:
        changed = service.update_schedule(s, engine.keyring, owner, schedule.id, input={"n": 2})
        assert changed.next_run_at == schedule.next_run_at
        changed = service.update_schedule(s, engine.keyring, owner, schedule.id, cron_expression="0 30 23 * * *",
                                          timezone="Asia/Tokyo")
        assert (changed.next_run_at.hour, changed.next_run_at.minute) == (14, 30)   # 23:30 JST in UTC
        assert changed.next_run_at - utcnow() <= timedelta(days=1)


def test_max_retries_consecutive_failures_pause_the_schedule(env):
    engine, dispatcher, _ = env
    schedule = new_schedule(env, "fails", cron_expression="*/10 * * * * *", max_retries=2)
    slot = schedule.next_run_at
    fire_due(engine, slot)
    dispatcher.drain(engine)
    first = reload(env, schedule)
    assert (first.status, first.consecutive_failures, first.last_execution_status) == ("active", 1, "failed")
    assert "node broken failed" in first.last_error_message
    fire_due(engine, slot + timedelta(seconds=10))
    dispatcher.drain(engine)
    paused = reload(env, schedule)
    assert (paused.status, paused.consecutive_failures, paused.next_run_at) == ("paused", 2, None)
    assert paused.paused_reason.startswith("paused after 2 consecutive failed runs (max_retries 2); last error: ")
    fire_due(engine, slot + timedelta(seconds=20))
    assert len(runs(env, schedule)) == 2


def test_a_completed_run_resets_the_failure_count(env):
    engine, dispatcher, owner = env
    schedule = new_schedule(env, "fails", cron_expression="*/10 * * * * *", max_retries=5)
    slot = schedule.next_run_at
    fire_due(engine, slot)
    dispatcher.drain(engine)
    assert reload(env, schedule).consecutive_failures == 1
    with engine.sessions.begin() as s:
        workflows.add_version(s, engine.keyring, owner, schedule.workflow_id, workflow_fixture("chain"))
    fire_due(engine, slot + timedelta(seconds=10))
    dispatcher.drain(engine)
    done = reload(env, schedule)
    assert (done.consecutive_failures, done.last_execution_status, done.last_error_message) == (0, "completed", None)


def test_a_run_that_cannot_start_counts_as_a_failure_and_uses_up_its_slot(env):
    engine, _, owner = env
    schedule = new_schedule(env, "fails", max_retries=1)
    with engine.sessions.begin() as s:
        workflows.archive(s, owner, schedule.workflow_id)
    fire_due(engine, schedule.next_run_at)
    failed = reload(env, schedule)
    assert runs(env, schedule) == [] and [f.execution_id for f in fires(env, schedule)] == [None]
    assert failed.last_error_message == f"the run could not start: workflow {schedule.workflow_id} is archived"
    assert (failed.status, failed.consecutive_failures) == ("paused", 1)


def test_a_scheduled_run_counts_against_the_owners_executions_per_minute(env):
    engine, _, owner = env
    with engine.sessions.begin() as s:
        s.get(User, owner.id).max_executions_per_minute = 1
    first, second = new_schedule(env), new_schedule(env)
    fire_due(engine, first.next_run_at)
    assert len(runs(env, first)) + len(runs(env, second)) == 1
    refused = next(s for s in (reload(env, first), reload(env, second)) if s.last_error_message)
    assert refused.last_error_message == "the run could not start: over the limit of 1 executions per minute"
    assert refused.consecutive_failures == 1 and [f.execution_id for f in fires(env, refused)] == [None]


def test_invalid_fields_are_named(env):
    with pytest.raises(Invalid) as raised:
        new_schedule(env, "fails", cron_expression="61 * * * *", timezone="Mars/Olympus", input={"n": "one"},
                     start_at=utcnow(), end_at=utcnow() - timedelta(days=1))
    assert raised.value.errors == {
        "cron_expression": ["invalid cron expression '61 * * * *': minute field '61' is not valid"],
        "timezone": ["unknown time zone 'Mars/Olympus': use an IANA name such as 'Europe/Paris' or 'UTC'"],
        "end_at": ["must be later than start_at"],
        "input": ["$.n: 'one' is not of type 'integer'"],
    }
    assert raised.value.message.startswith("cron_expression: invalid cron expression '61 * * * *'")


def test_another_owner_sees_nothing(env):
    engine, _, owner = env
    schedule = new_schedule(env)
    with engine.sessions.begin() as s:
        stranger = api_keys.get_or_create_user(s, "stranger@example.com")
        with pytest.raises(NotFound):
            service.get_schedule(s, stranger, schedule.id)
        assert service.list_schedules(s, stranger).items == []
        assert [x.id for x in service.list_schedules(s, owner).items] == [schedule.id]


def test_deleting_a_schedule_keeps_its_executions(env):
    engine, _, owner = env
    schedule = new_schedule(env)
    fire_due(engine, schedule.next_run_at)
    with engine.sessions.begin() as s:
        service.delete_schedule(s, owner, schedule.id)
    with engine.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ScheduleFire)) == 0
        assert s.scalar(select(func.count()).select_from(Execution).where(Execution.schedule_id.is_(None))) == 1


def test_the_beat_sleeps_until_the_next_slot_and_outlives_a_database_outage(monkeypatch, caplog, tmp_path):
    app = create_celery(Settings.from_env({"ORCHESTRATOR_DATA_DIR": str(tmp_path)}))
    scheduler = beat.DatabaseScheduler(app=app, lazy=True)
    monkeypatch.setattr(beat, "engine_of", lambda app: None)
    monkeypatch.setattr(beat, "fire_due", lambda engine: utcnow() + timedelta(seconds=0.3))
    assert 0.2 < scheduler.tick() <= 0.3
    monkeypatch.setattr(beat, "fire_due", lambda engine: None)
    assert scheduler.tick() == scheduler.max_interval == 1.0

    def database_down(engine):
        raise OperationalError("SELECT", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(beat, "fire_due", database_down)
    assert scheduler.tick() == 1.0
    assert "firing schedules failed; retrying in 1.0s" in caplog.text
