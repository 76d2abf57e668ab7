"""Transient database errors are the engine's problem (DESIGN section 14): what counts as one,
a real deadlock run again, a persistent error failing the attempt under its name, and a
node's own transient error queueing the step again without counting a failure."""
from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from orchestrator.db import Execution, User
from orchestrator.db.transient import run_again, transient
from tests.support.waiting import until, waiting_for_a_lock
from tests.unit.engine.test_engine import linear, load, submit


def test_what_is_transient_and_what_is_not(env):
    engine = env[0]
    with engine.db.connect() as conn, pytest.raises(IntegrityError) as duplicate:
        conn.execute(text("INSERT INTO users (id, email, is_admin, created_at) SELECT id, email, is_admin, "
                          "created_at FROM users"))
    assert transient(duplicate.value) is None
    if engine.sql.name == "sqlite":
        path = engine.db.url.database
        holder, waiter = sqlite3.connect(path, isolation_level=None), create_engine(f"sqlite:///{path}",
                                                                                      connect_args={"timeout": 0})
        holder.execute("BEGIN IMMEDIATE")
        with waiter.connect() as conn, pytest.raises(OperationalError) as locked:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        holder.close()
        waiter.dispose()
        assert transient(locked.value) == "database locked"
        return
    with engine.db.connect() as conn:
        with engine.db.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"),
                          {"pid": conn.connection.driver_connection.info.backend_pid})
            other.commit()
        with pytest.raises(OperationalError) as dropped:
            conn.execute(text("SELECT 1"))
    assert transient(dropped.value) == "connection lost"
    refused = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    with pytest.raises(OperationalError) as away:
        refused.connect()
    assert transient(away.value) == "connection failure"
    assert pytest.raises(OperationalError, run_again, refused.connect, "connecting", seconds=0.2)


def test_a_deadlock_runs_the_whole_engine_transaction_again(env):
    """A real deadlock: the engine's transaction holds the execution and waits for a row that
    another transaction holds, which then waits for the execution. PostgreSQL aborts the
    engine's (its deadlock check comes first); the engine runs it again, once the other
    transaction is done."""
    engine, _, owner = env
    if engine.sql.name != "postgresql":
        pytest.skip("SQLite serialises writers: it cannot deadlock")
    execution_id = submit(env, linear(1), drain=False)
    runs, waiting = [], threading.Event()

    def body(txn):
        runs.append(1)
        txn.conn.execute(text("SET LOCAL deadlock_timeout = '1s'"))
        waiting.set()
        txn.conn.execute(select(User.id).where(User.id == owner.id).with_for_update())
        txn.event("test_event", "after the owner's row")
        return len(runs)

    with engine.db.connect() as other:
        other.execute(text("SET LOCAL deadlock_timeout = '10s'"))
        other.execute(select(User.id).where(User.id == owner.id).with_for_update())
        result = []
        thread = threading.Thread(target=lambda: result.append(engine.atomic(execution_id, body)))
        thread.start()
        assert waiting.wait(10)
        until("the engine waits for the owner's row", lambda: waiting_for_a_lock(engine.settings.database_url))
        other.execute(select(Execution.id).where(Execution.id == execution_id).with_for_update())
        other.commit()
    thread.join(20)
    assert result == [2]
    events = [e.event_type for e in load(env, execution_id)[2]]
    assert events.count("test_event") == 1


def test_a_write_refused_for_good_fails_the_attempt_naming_the_error(env, monkeypatch):
    engine, dispatcher, _ = env
    execution_id = submit(env, {"name": "one", "nodes": [{"id": "n0", "type": "test_flaky",
                                                          "config": {"times": 0}}]}, drain=False)
    write = engine.sql.write

    def refuse_completions(conn, execution, steps, events):
        if any(step.values.get("status") == "completed" for step in steps):
            raise IntegrityError("UPDATE execution_steps", {}, sqlite3.IntegrityError("CHECK constraint failed"))
        return write(conn, execution, steps, events)
    monkeypatch.setattr(engine.sql, "write", refuse_completions)
    dispatcher.drain(engine)
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "failed" and steps["n0"].attempt == 1
    assert steps["n0"].error_message == \
        "the result of node n0 could not be stored: IntegrityError: CHECK constraint failed"


def test_a_nodes_own_transient_error_queues_the_next_attempt_without_a_failure(env):
    execution_id = submit(env, {"name": "away", "nodes": [{"id": "n0", "type": "test_flaky", "config": {
        "times": 1, "database_locked": True}}]})
    execution, steps, events = load(env, execution_id)
    assert execution.status == "completed", execution.error_message
    assert (steps["n0"].attempt, steps["n0"].failed_attempts, steps["n0"].output) == (2, 0, {"attempt": 2})
    requeued = [e.message for e in events if e.event_type == "step_queued"][-1]
    assert requeued == ("attempt 1 met a transient database error (database locked: OperationalError: database is "
                        "locked); queued again as attempt 2")


def test_a_node_whose_database_never_comes_back_fails_after_five_attempts(env):
    execution_id = submit(env, {"name": "away", "nodes": [{"id": "n0", "type": "test_flaky", "config": {
        "times": 99, "database_locked": True}}]})
    execution, steps, _ = load(env, execution_id)
    assert execution.status == "failed" and steps["n0"].attempt == 5
    assert steps["n0"].error_message.endswith("the 5th attempt in a row to end so")
