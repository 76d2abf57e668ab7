"""The engine on SQLite with an in-process dispatcher: no servers."""
from __future__ import annotations

import dataclasses
import sqlite3
import uuid
from datetime import timedelta

import marshmallow
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from orchestrator.db import Execution, ExecutionEvent, ExecutionStep, HumanApproval
from orchestrator.db.types import utcnow
from orchestrator.engine import NotAllowed, cancel, decide_approval, pause, resume, retry, sweep
from orchestrator.engine.maintenance import prune_events
from orchestrator.engine.runner import run_step
from orchestrator.nodes.base import NodeError, NodeType
from orchestrator.nodes.registry import register
from orchestrator.services import executions, workflows
from tests.support.api import fan_out, workflow_fixture


class _FailTimes(marshmallow.Schema):
    times = marshmallow.fields.Integer(load_default=1000)
    database_locked = marshmallow.fields.Boolean(load_default=False)


@register
class FlakyNode(NodeType):
    """Fails its first ``times`` attempts (in-process test node); ``database_locked``: its own
    database access meets a locked SQLite database instead."""

    type_name = "test_flaky"
    config_schema = _FailTimes

    def run(self, ctx):
        if ctx.attempt <= ctx.config["times"]:
            if ctx.config["database_locked"]:
                raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked"))
            raise NodeError(f"flaky failure on attempt {ctx.attempt}")
        return {"attempt": ctx.attempt}


def submit(env, definition, input=None, drain=True):
    engine, dispatcher, owner = env
    if isinstance(definition, str):
        definition = workflow_fixture(definition)
    with engine.sessions() as s, s.begin():
        workflow = workflows.create_workflow(s, engine.keyring, owner, definition)
    execution, _ = executions.submit(engine, owner, workflow.id, input or {})
    if drain:
        dispatcher.drain(engine)
    return execution.id


def load(env, execution_id):
    engine = env[0]
    with engine.sessions() as s:
        execution = s.get(Execution, execution_id)
        steps = {st.node_id: st for st in s.scalars(select(ExecutionStep).where(ExecutionStep.execution_id == execution_id))}
        events = s.scalars(select(ExecutionEvent).where(ExecutionEvent.execution_id == execution_id)
                           .order_by(ExecutionEvent.seq)).all()
        return execution, steps, events


def linear(n, type_="noop"):
    nodes = [{"id": f"n{i}", "type": type_} for i in range(n)]
    return {"name": f"linear-{n}", "nodes": nodes,
            "edges": [{"source": f"n{i}", "target": f"n{i + 1}"} for i in range(n - 1)]}


def test_chain_passes_outputs_and_renders_the_output(env):
    execution, steps, events = load(env, submit(env, "chain", {"n": 4}))
    assert execution.status == "completed", execution.error_message
    assert execution.output == {"result": 50}
    assert [steps[n].output for n in "abc"] == [{"n": 4}, {"n": 5}, {"n": 50}]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].event_type == "execution_pending" and events[-1].event_type == "execution_completed"
    assert execution.duration_ms >= 0 and all(s.duration_ms is not None for s in steps.values())


def test_fan_out_to_ten_and_fan_in_runs_the_join_once(env):
    execution, steps, events = load(env, submit(env, "fanout"))
    assert execution.status == "completed"
    assert steps["join"].output == {"total": 45}
    assert sum(1 for e in events if e.node_id == "join" and e.event_type == "step_queued") == 1
    assert sum(1 for e in events if e.node_id == "join" and e.event_type == "step_running") == 1


def test_conditional_edges_skip_and_skips_propagate(env):
    execution, steps, _ = load(env, submit(env, "conditional", {"score": 80}))
    assert execution.status == "completed"
    assert {n: steps[n].status for n in steps} == {
        "check": "completed", "high": "completed", "low": "skipped", "after_low": "skipped", "report": "completed"}
    assert steps["report"].output == {"high": "completed", "low": "skipped"}

    execution, steps, _ = load(env, submit(env, "conditional", {"score": 10}))
    assert steps["high"].status == "skipped" and steps["after_low"].status == "completed"
    assert steps["report"].status == "completed"


def test_retry_then_success_waits_out_the_backoff(env):
    engine, dispatcher, _ = env
    definition = {"name": "retry", "nodes": [{"id": "f", "type": "test_flaky", "config": {"times": 2},
                                             "retry": {"max_attempts": 3, "backoff_seconds": 0.5, "backoff_factor": 2}}]}
    execution_id = submit(env, definition)
    _, steps, _ = load(env, execution_id)
    assert steps["f"].status == "queued" and steps["f"].attempt == 2 and steps["f"].not_before > utcnow()
    sweep(engine)
    assert dispatcher.drain(engine) == 0          # not due yet: nothing sent
    deadline = utcnow() + timedelta(seconds=5)
    while load(env, execution_id)[0].status == "running" and utcnow() < deadline:
        sweep(engine)
        dispatcher.drain(engine)
    execution, steps, events = load(env, execution_id)
    assert execution.status == "completed"
    assert steps["f"].attempt == 3 and steps["f"].output == {"attempt": 3} and steps["f"].failed_attempts == 2
    retries = [e for e in events if e.event_type == "step_queued" and e.attempt in (2, 3)]
    gap = (retries[1].created_at - retries[0].created_at).total_seconds()
    assert gap >= 0.5  # the second backoff (1 s) separates failure 2 from failure 1


@pytest.mark.parametrize("policy, execution_status, branch_status, after_status", [
    ("fail", "failed", "cancelled", "cancelled"),
    ("continue", "completed", "skipped", "completed"),
    ("fail_branch", "completed", "completed", "skipped"),
    ("default", "completed", "skipped", "completed"),
])
def test_on_error_policies(env, policy, execution_status, branch_status, after_status):
    definition = {
        "name": policy,
        "nodes": [{"id": "bad", "type": "test_flaky", "on_error": policy, "default_output": {"fallback": True}},
                  {"id": "after", "type": "transform", "config": {"output": "{{ nodes.bad.status }}"}},
                  {"id": "branch", "type": "noop"},
                  {"id": "side", "type": "noop"}],
        "edges": [{"source": "bad", "target": "after"}]
        + ([{"source": "bad", "target": "branch", "on": "error"}] if policy == "fail_branch"
           else [{"source": "bad", "target": "branch", "condition": "false"}]),
    }
    execution, steps, _ = load(env, submit(env, definition))
    assert execution.status == execution_status, execution.error_message
    assert steps["branch"].status == branch_status
    assert steps["after"].status == after_status
    if policy == "fail":
        assert "node bad failed: flaky failure on attempt 1" in execution.error_message
    if policy == "default":
        assert steps["bad"].status == "completed" and steps["bad"].output == {"fallback": True}
        assert steps["after"].output == "completed"
    if policy == "continue":
        assert steps["bad"].status == "failed" and steps["after"].output == "failed"


def test_a_duplicate_message_is_a_no_op(env):
    engine, dispatcher, _ = env
    execution_id = submit(env, linear(2), drain=False)
    message = dispatcher.queue[0]
    dispatcher.send([message])                     # the same message delivered twice
    dispatcher.drain(engine)
    execution, steps, events = load(env, execution_id)
    assert execution.status == "completed"
    assert sum(1 for e in events if e.node_id == "n0" and e.event_type == "step_running") == 1


def test_max_steps_stops_a_runaway_workflow(env):
    definition = linear(5) | {"max_steps": 6}
    definition["nodes"][1] |= {"type": "test_flaky", "config": {"times": 10},
                               "retry": {"max_attempts": 10, "backoff_seconds": 0}}
    execution, steps, _ = load(env, submit(env, definition))
    assert execution.status == "failed" and "max_steps (6) exceeded" in execution.error_message
    assert steps["n1"].attempt == 6 and steps["n4"].status == "cancelled"


# PostgreSQL only: the rule does not depend on the database, and each of the 600 completions
# reads the join's 600 sources (about 15 s a run).
@pytest.mark.parametrize("env", ["postgresql"], indirect=True)
def test_a_1_600_1_fan_out_saved_without_max_steps_completes(env):
    execution, steps, _ = load(env, submit(env, fan_out(600)))
    assert execution.status == "completed", execution.error_message
    assert len(steps) == 602 and execution.step_count == 602
    assert all(step.status == "completed" for step in steps.values())


def test_cancel_pause_resume(env):
    engine, dispatcher, _ = env
    execution_id = submit(env, linear(3), drain=False)
    pause(engine, execution_id)
    dispatcher.drain(engine)                        # the root's message finds the execution paused
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "paused" and steps["n0"].status == "queued"
    with pytest.raises(NotAllowed):
        pause(engine, execution_id)
    resume(engine, execution_id)
    dispatcher.drain(engine)
    assert load(env, execution_id)[0].status == "completed"
    with pytest.raises(NotAllowed, match="completed"):
        cancel(engine, execution_id)

    execution_id = submit(env, linear(3), drain=False)
    dispatcher.drain(engine, limit=1)
    cancel(engine, execution_id)
    dispatcher.drain(engine)
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "cancelled"
    assert [steps[f"n{i}"].status for i in range(3)] == ["completed", "cancelled", "cancelled"]


def test_retry_runs_failed_steps_again_and_keeps_completed_ones(env):
    engine, dispatcher, _ = env
    definition = {"name": "r", "nodes": [{"id": "ok", "type": "noop"}, {"id": "f", "type": "test_flaky",
                                                                          "config": {"times": 1}},
                                         {"id": "after", "type": "noop"}],
                  "edges": [{"source": "ok", "target": "f"}, {"source": "f", "target": "after"}]}
    execution_id = submit(env, definition)
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "failed" and steps["after"].status == "cancelled"
    ok_completed_at = steps["ok"].completed_at
    retry(engine, execution_id)
    dispatcher.drain(engine)
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "completed" and execution.error_message is None
    assert steps["f"].attempt == 2 and steps["ok"].completed_at == ok_completed_at
    with pytest.raises(NotAllowed):
        retry(engine, execution_id)


def test_delay_holds_no_worker_and_completes_after_its_time(env):
    engine, dispatcher, _ = env
    # long enough that the first sweep below comes before it is due, on a loaded machine too
    execution_id = submit(env, {"name": "d", "nodes": [{"id": "wait", "type": "delay", "config": {"seconds": 1.5}},
                                                      {"id": "next", "type": "noop"}],
                               "edges": [{"source": "wait", "target": "next"}]})
    _, steps, _ = load(env, execution_id)
    assert steps["wait"].status == "waiting" and steps["wait"].lease_expires_at is None
    sweep(engine)
    assert load(env, execution_id)[1]["wait"].status == "waiting"
    deadline = utcnow() + timedelta(seconds=5)
    while load(env, execution_id)[0].status != "completed" and utcnow() < deadline:
        sweep(engine)
        dispatcher.drain(engine)
    assert load(env, execution_id)[0].status == "completed"


def _approval_flow(env, expires=3600):
    definition = {"name": "approve", "nodes": [
        {"id": "ask", "type": "human_approval", "config": {"expires_in_seconds": expires},
         "on_error": "fail_branch"},
        {"id": "go", "type": "transform", "config": {"output": "{{ nodes.ask.output }}"}},
        {"id": "stop", "type": "noop"}],
        "edges": [{"source": "ask", "target": "go"}, {"source": "ask", "target": "stop", "on": "error"}]}
    execution_id = submit(env, definition)
    with env[0].sessions() as s:
        approval = s.scalar(select(HumanApproval).where(HumanApproval.execution_id == execution_id))
    return execution_id, approval


def test_approval_approved_rejected_and_expired(env):
    engine, dispatcher, owner = env
    execution_id, approval = _approval_flow(env)
    assert load(env, execution_id)[1]["ask"].status == "waiting" and approval.status == "pending"
    decide_approval(engine, True, {"comment": "ship it"}, approval_id=approval.id, owner_id=owner.id)
    dispatcher.drain(engine)
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "completed"
    assert steps["go"].output == {"approved": True, "comment": "ship it"} and steps["stop"].status == "skipped"
    with pytest.raises(NotAllowed, match="already approved"):
        decide_approval(engine, False, approval_id=approval.id)

    execution_id, approval = _approval_flow(env)
    decide_approval(engine, False, {"why": "no"}, approval_id=approval.id)
    dispatcher.drain(engine)
    _, steps, _ = load(env, execution_id)
    assert steps["ask"].status == "failed" and steps["ask"].error_message == "approval rejected"
    assert steps["stop"].status == "completed" and steps["go"].status == "skipped"

    execution_id, approval = _approval_flow(env, expires=1)
    with engine.sessions() as s, s.begin():
        s.execute(update(HumanApproval).where(HumanApproval.id == approval.id)
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
    sweep(engine)
    dispatcher.drain(engine)
    _, steps, _ = load(env, execution_id)
    assert steps["ask"].error_message == "approval expired" and steps["stop"].status == "completed"


def test_execution_timeout(env):
    engine, dispatcher, _ = env
    execution_id = submit(env, {"name": "t", "timeout_seconds": 60,
                                "nodes": [{"id": "wait", "type": "delay", "config": {"seconds": 3600}}]})
    with engine.sessions() as s, s.begin():
        s.execute(update(Execution).where(Execution.id == execution_id).values(deadline_at=utcnow()))
    sweep(engine)
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "timed_out" and "timeout of 60s" in execution.error_message
    assert steps["wait"].status == "cancelled"


def test_an_expired_lease_is_recovered_as_the_next_attempt_and_the_late_result_discarded(env):
    engine, dispatcher, _ = env
    execution_id = submit(env, linear(1), drain=False)
    message = dispatcher.queue.popleft()
    claim = engine.claim(message.step_id, message.execution_id, "doomed-worker", "t1")
    with engine.sessions() as s, s.begin():
        s.execute(update(ExecutionStep).where(ExecutionStep.id == message.step_id)
                  .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    sweep(engine)
    _, steps, _ = load(env, execution_id)
    assert steps["n0"].status == "queued" and steps["n0"].attempt == 2 and steps["n0"].failed_attempts == 0
    engine.record(claim, None, {"late": True})      # the vanished worker's late result
    assert load(env, execution_id)[1]["n0"].status == "queued"
    dispatcher.drain(engine)
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "completed" and steps["n0"].output == {} and steps["n0"].worker == "inline"


def test_a_queued_step_whose_message_was_lost_is_sent_again(env):
    engine, dispatcher, _ = env
    execution_id = submit(env, linear(2), drain=False)
    dispatcher.queue.clear()                        # the process died between commit and send
    with engine.sessions() as s, s.begin():
        s.execute(update(ExecutionStep).values(dispatched_at=utcnow() - timedelta(hours=1))
                  .where(ExecutionStep.execution_id == execution_id))
    sweep(engine)
    dispatcher.drain(engine)
    assert load(env, execution_id)[0].status == "completed"


def test_events_are_numbered_without_gaps_per_execution(env):
    first = submit(env, "fanout")
    second = submit(env, "chain", {"n": 1})
    with env[0].sessions() as s:
        for execution_id in (first, second):
            seqs = s.scalars(select(ExecutionEvent.seq).where(ExecutionEvent.execution_id == execution_id)
                             .order_by(ExecutionEvent.seq)).all()
            assert seqs == list(range(1, len(seqs) + 1))
            assert s.scalar(select(func.count()).select_from(ExecutionStep)
                            .where(ExecutionStep.execution_id == execution_id)) > 0


def test_a_config_that_does_not_render_fails_the_step_without_retry(env):
    execution, steps, _ = load(env, submit(env, {"name": "bad", "nodes": [
        {"id": "t", "type": "transform", "config": {"output": "{{ input.missing.deeper }}"},
         "retry": {"max_attempts": 3}}]}))
    assert execution.status == "failed" and steps["t"].attempt == 1
    assert "config of node t" in steps["t"].error_message


def test_run_step_of_an_unknown_step_is_ignored(env):
    run_step(env[0], uuid.uuid4(), uuid.uuid4(), "w")


def test_events_of_executions_finished_before_the_retention_period_are_pruned(env):
    engine = env[0]
    old, recent, running = submit(env, linear(2)), submit(env, linear(2)), submit(env, linear(1), drain=False)
    long_ago = utcnow() - timedelta(days=31)
    with engine.sessions.begin() as s:
        s.execute(update(Execution).where(Execution.id == old).values(completed_at=long_ago))
        s.execute(update(ExecutionEvent).where(ExecutionEvent.execution_id.in_([old, recent, running]))
                  .values(created_at=long_ago))
    old_events, kept = len(load(env, old)[2]), len(load(env, recent)[2])

    assert prune_events(engine, utcnow()) == old_events
    execution, steps, events = load(env, old)
    assert events == [] and execution.status == "completed" and len(steps) == 2   # the history stays
    assert len(load(env, recent)[2]) == kept                                      # finished 0 days ago
    assert load(env, running)[2]                                                  # not finished
    assert prune_events(engine, utcnow()) == 0


def test_a_retention_of_zero_keeps_every_event(env, monkeypatch):
    engine = env[0]
    execution_id = submit(env, linear(1))
    with engine.sessions.begin() as s:
        s.execute(update(Execution).where(Execution.id == execution_id).values(completed_at=utcnow() - timedelta(days=400)))
    monkeypatch.setattr(engine, "settings", dataclasses.replace(engine.settings, event_retention_days=0))
    assert prune_events(engine, utcnow() + timedelta(days=400)) == 0
    assert load(env, execution_id)[2]


def test_a_step_whose_worker_is_lost_five_times_fails_instead_of_looping(env):
    engine, dispatcher, _ = env
    execution_id = submit(env, linear(1), drain=False)
    for _ in range(5):
        message = dispatcher.queue.popleft()
        assert engine.claim(message.step_id, message.execution_id, "doomed", "t") is not None
        with engine.sessions.begin() as s:
            s.execute(update(ExecutionStep).where(ExecutionStep.id == message.step_id)
                      .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        sweep(engine)
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "failed" and steps["n0"].attempt == 5
    assert "the 5th time in a row" in steps["n0"].error_message


def test_an_output_the_database_cannot_store_fails_the_attempt_once(env):
    engine, dispatcher, _ = env
    execution_id = submit(env, linear(1), drain=False)
    message = dispatcher.queue.popleft()
    claim = engine.claim(message.step_id, message.execution_id, "w", "t")
    engine.record(claim, None, {"text": "nul \x00 here"})
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "failed" and steps["n0"].attempt == 1
    assert "cannot be stored" in steps["n0"].error_message and "NUL" in steps["n0"].error_message


def _transactions(engine):
    """The connections ``engine`` checks out and the transactions it commits, counted from now."""
    from collections import Counter

    from sqlalchemy import event

    counted = Counter()
    event.listen(engine.db, "commit", lambda conn: counted.update(["commits"]))
    event.listen(engine.db.pool, "checkout", lambda *args: counted.update(["connections"]))
    return counted


def test_a_pure_node_is_claimed_run_and_recorded_in_one_commit(env):
    engine, dispatcher, _ = env
    execution_id = submit(env, {"name": "pure", "nodes": [
        {"id": "t", "type": "transform", "config": {"output": "{{ input.n + 1 }}"}}]}, {"n": 1}, drain=False)
    message = dispatcher.queue.popleft()
    counted = _transactions(engine)
    run_step(engine, message.step_id, message.execution_id, "w", "t", message.node_id, message.version_id)
    assert counted == {"connections": 1, "commits": 1}
    execution, steps, events = load(env, execution_id)
    assert execution.status == "completed" and steps["t"].output == 2
    assert steps["t"].worker == "w" and steps["t"].celery_task_id == "t" and steps["t"].duration_ms == 0
    assert [e.event_type for e in events] == ["execution_pending", "step_queued", "execution_running",
                                              "step_running", "step_completed", "execution_completed"]
    run_step(engine, message.step_id, message.execution_id, "w", "t", message.node_id, message.version_id)
    assert len(load(env, execution_id)[2]) == len(events)        # a duplicate changes nothing


def test_a_message_without_the_version_runs_a_pure_node_in_two_transactions(env):
    engine, dispatcher, _ = env
    execution_id = submit(env, linear(1), drain=False)
    message = dispatcher.queue.popleft()
    counted = _transactions(engine)
    run_step(engine, message.step_id, message.execution_id, "w", "t")     # a message sent by an older release
    assert counted["connections"] == 2
    execution, _, events = load(env, execution_id)
    assert execution.status == "completed"
    assert [e.event_type for e in events][-3:] == ["step_running", "step_completed", "execution_completed"]


def test_a_pure_step_whose_write_is_refused_is_run_again_the_usual_way(env, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    engine, dispatcher, _ = env
    execution_id = submit(env, linear(1), drain=False)
    write, refused = engine.sql.write, []

    def refuse_once(*args):
        if not refused:
            refused.append(1)
            raise IntegrityError("UPDATE execution_steps", {}, Exception("refused"))
        return write(*args)
    monkeypatch.setattr(engine.sql, "write", refuse_once)
    dispatcher.drain(engine)
    execution, steps, events = load(env, execution_id)
    assert refused and execution.status == "completed" and steps["n0"].attempt == 1
    assert sum(1 for e in events if e.event_type == "step_running") == 1


def test_on_postgresql_the_driver_cursors_errors_are_sqlalchemys(env):
    """The hot statements run on psycopg's cursor; what they raise is what the rest of the
    engine expects: a refused write as DBAPIError, a dropped connection as invalidated."""
    from sqlalchemy import text
    from sqlalchemy.exc import DataError, OperationalError

    engine, _, _ = env
    if engine.sql.name != "postgresql":
        pytest.skip("the driver's cursor is PostgreSQL's seam")
    execution_id = submit(env, linear(2), drain=False)
    with engine.db.connect() as conn, conn.begin():
        execution, steps, _ = engine.sql.lock_and_read(conn, execution_id, ["n0", "n1"])
        assert execution.status == "pending" and set(steps) == {"n0", "n1"}
        assert steps["n0"].queued_at.utcoffset() == timedelta(0)
        event = {"id": uuid.uuid4(), "execution_id": execution_id, "seq": 99, "event_type": "x" * 500,
                 "node_id": None, "attempt": None, "message": None, "data": None, "created_at": utcnow()}
        with pytest.raises(DataError) as refused:
            engine.sql.write(conn, execution, [], [event])
        assert not refused.value.connection_invalidated and "too long" in str(refused.value.orig)
    with engine.db.connect() as conn:
        with engine.db.connect() as other:
            pid = conn.connection.driver_connection.info.backend_pid
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            other.commit()
        with pytest.raises(OperationalError) as dropped:
            with conn.begin():
                engine.sql.lock_and_read(conn, execution_id, ["n0"])
        assert dropped.value.connection_invalidated
    assert engine.atomic(execution_id, lambda txn: txn.execution.status) == "pending"    # a fresh connection


def slow_commit(engine, event, when, seconds=1):
    """On PostgreSQL, a commit that wrote a step row matching ``when`` (an ``event`` of
    execution_steps) takes ``seconds`` more, holding its locks."""
    from sqlalchemy import text

    with engine.db.begin() as conn:
        conn.execute(text("CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
                          f"$$ BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$"))
        conn.execute(text(f"CREATE CONSTRAINT TRIGGER slow_commit AFTER {event} ON execution_steps "
                          f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION slow_commit()"))


@pytest.mark.parametrize("successor", [{"type": "test_flaky", "config": {"times": 0}}, {"type": "noop"}],
                         ids=["claimed", "pure"])
def test_a_step_message_sent_before_its_commit_runs_the_step_once_the_commit_is_done(env, monkeypatch, successor):
    """On PostgreSQL a successor's message leaves before the transaction that queued it
    writes and commits. Its worker waits for the execution's lock, then runs the step, though
    the step was not yet queued in the snapshot of its first statement (the claim, or a pure
    node's lock-and-read)."""
    import threading
    import time

    from sqlalchemy import text

    engine, dispatcher, _ = env
    if engine.sql.name != "postgresql":
        pytest.skip("SQLite sends after the commit")
    execution_id = submit(env, {"name": "slow-commit", "nodes": [
        {"id": "a", "type": "noop"}, {"id": "b", **successor}],
        "edges": [{"source": "a", "target": "b"}]}, drain=False)
    slow_commit(engine, "UPDATE", "NEW.node_id = 'b' AND NEW.status = 'queued'")      # a's commit
    waited, threads = [], []

    def run_meanwhile(messages):
        (m,) = messages
        threads.append(threading.Thread(target=run_step, args=(engine, m.step_id, m.execution_id, "w", "t2",
                                                               m.node_id, m.version_id)))
        threads[0].start()
        deadline = time.monotonic() + 5
        with engine.db.connect() as conn:
            while not waited and time.monotonic() < deadline:
                if conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND wait_event_type = 'Lock'")).scalar():
                    waited.append(True)
                conn.rollback()
                time.sleep(0.01)
    monkeypatch.setattr(dispatcher, "send", run_meanwhile)
    message = dispatcher.queue.popleft()
    run_step(engine, message.step_id, message.execution_id, "w", "t1", message.node_id, message.version_id)
    threads[0].join(10)
    assert waited, "the message left after the commit"
    execution, steps, events = load(env, execution_id)
    assert execution.status == "completed" and steps["b"].status == "completed"
    assert [e.node_id for e in events if e.event_type == "step_running"] == ["a", "b"]
