"""Races on PostgreSQL: two deliveries of one message (one claim wins, the other is dropped),
and a schedule deleted while its run ends (no deadlock)."""
import threading

import pytest
from sqlalchemy import select

from orchestrator.crypto import load_keyring
from orchestrator.db import Execution, ExecutionEvent, ScheduledWorkflow
from orchestrator.db.session import get_engine
from orchestrator.engine import Engine
from orchestrator.schedules import service
from orchestrator.schedules.bookkeeping import on_execution_ended
from orchestrator.services import api_keys, executions, workflows
from orchestrator.states import StepStatus, Trigger
from tests.support.inline import InlineDispatcher
from tests.support.waiting import until, waiting_for_a_lock

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(migrated_settings):
    if not migrated_settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: no such race there")
    yield Engine(migrated_settings, load_keyring(migrated_settings), InlineDispatcher())
    get_engine(migrated_settings).dispose()


def test_a_claim_that_waited_for_the_lock_sees_the_step_already_claimed(engine):
    with engine.sessions.begin() as s:
        owner = api_keys.get_or_create_user(s, "race@example.com")
        workflow = workflows.create_workflow(s, engine.keyring, owner, {"name": "race", "nodes": [
            {"id": "only", "type": "noop"}]})
    execution, _ = executions.submit(engine, owner, workflow.id)
    message = engine.dispatcher.queue.popleft()
    results = []

    with engine.execution(execution.id) as first:      # the first delivery holds the lock ...
        second = threading.Thread(target=lambda: results.append(
            engine.claim(message.step_id, message.execution_id, "second", "t2")))
        second.start()
        until("the second waits for it", lambda: waiting_for_a_lock(engine.settings.database_url))
        assert second.is_alive()
        first.move_step(first.step(message.step_id), StepStatus.RUNNING, worker="first")
    second.join(10)

    assert results == [None]
    with engine.sessions() as s:
        running = s.scalars(select(ExecutionEvent.event_type).where(
            ExecutionEvent.execution_id == execution.id, ExecutionEvent.event_type == "step_running")).all()
    assert running == ["step_running"]


def test_deleting_a_schedule_while_its_run_ends_does_not_deadlock(engine):
    with engine.sessions.begin() as s:
        owner = api_keys.get_or_create_user(s, "sched@example.com")
        workflow = workflows.create_workflow(s, engine.keyring, owner, {"name": "s", "nodes": [
            {"id": "only", "type": "noop"}]})
        schedule = service.create_schedule(s, engine.keyring, owner, workflow.id, cron_expression="0 12 * * *")
    execution, _ = executions.submit(engine, owner, workflow.id, trigger=Trigger.SCHEDULE, schedule_id=schedule.id)
    errors = []

    def delete() -> None:
        try:
            with engine.sessions.begin() as s:
                service.delete_schedule(s, owner, schedule.id)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    with engine.execution(execution.id) as ending:      # the run ends: its row is locked first ...
        deleting = threading.Thread(target=delete)
        deleting.start()
        until("the delete waits for it", lambda: waiting_for_a_lock(engine.settings.database_url))
        on_execution_ended(ending)                       # ... then it updates its schedule
    deleting.join(10)
    assert errors == []
    with engine.sessions() as s:
        assert s.get(ScheduledWorkflow, schedule.id) is None
        assert s.get(Execution, execution.id).schedule_id is None


def test_two_branches_finishing_together_start_the_join_once(engine):
    with engine.sessions.begin() as s:
        owner = api_keys.get_or_create_user(s, "fanin@example.com")
        workflow = workflows.create_workflow(s, engine.keyring, owner, {"name": "fan-in", "nodes": [
            {"id": "a", "type": "noop"}, {"id": "b", "type": "noop"}, {"id": "join", "type": "noop"}],
            "edges": [{"source": "a", "target": "join"}, {"source": "b", "target": "join"}]})
    for _ in range(10):
        execution, _ = executions.submit(engine, owner, workflow.id)
        claims = [engine.claim(m.step_id, m.execution_id, f"w{i}", f"t{i}")
                  for i, m in enumerate(list(engine.dispatcher.queue))]
        engine.dispatcher.queue.clear()
        barrier = threading.Barrier(2)

        def finish(claim, barrier=barrier):
            barrier.wait()
            engine.record(claim, None, {})

        threads = [threading.Thread(target=finish, args=(claim,)) for claim in claims]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        sent = [m.node_id for m in engine.dispatcher.queue]
        engine.dispatcher.queue.clear()
        with engine.sessions() as s:
            queued = s.scalars(select(ExecutionEvent.node_id).where(
                ExecutionEvent.execution_id == execution.id, ExecutionEvent.event_type == "step_queued",
                ExecutionEvent.node_id == "join")).all()
        assert queued == ["join"] and sent == ["join"]
