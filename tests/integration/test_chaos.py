"""DESIGN section 4: restart Redis, restart PostgreSQL during a run: every execution still
reaches a terminal state and no step is lost or duplicated in the database. Both servers
are private to this module (started from the installed binaries), so they can be stopped."""
from __future__ import annotations

import time

import psycopg
import pytest

from orchestrator.states import EXECUTION_TERMINAL
from tests.support.servers import OwnPostgres, OwnRedis
from tests.support.stack import finished, http_node, running_stack, state, submit

pytestmark = pytest.mark.integration
CHAIN = 5
RUNS = 4


@pytest.fixture(scope="module")
def own():
    postgres, broker = OwnPostgres(), OwnRedis()
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE orchestrator")
    yield postgres, broker
    broker.close()
    postgres.close()


@pytest.fixture(scope="module")
def chaos_stack(own, tmp_path_factory):
    postgres, broker = own
    database = postgres.url.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + "/orchestrator"
    with running_stack(tmp_path_factory.mktemp("chaos"), database, f"{broker.url}/0",
                       ORCHESTRATOR_REQUEUE_AFTER_SECONDS="3") as stack:
        yield stack


def slow_chain(stack, name: str) -> dict:
    nodes = [http_node(f"n{i}", f"{stack.http.url}/slow?s=0.3&key={name}-{i}") for i in range(CHAIN)]
    return {"name": name, "nodes": nodes, "edges": [{"source": f"n{i}", "target": f"n{i + 1}"}
                                                     for i in range(CHAIN - 1)]}


def assert_every_step_ran_once(stack, execution_ids):
    for execution_id in execution_ids:
        execution, steps, events = finished(stack, execution_id, timeout=90)
        assert execution.status == "completed", (execution.error_message, stack.workers.logs())
        assert sorted(steps) == [f"n{i}" for i in range(CHAIN)]
        assert all(step.status == "completed" for step in steps.values())
        completed = [e.node_id for e in events if e.event_type == "step_completed"]
        assert sorted(completed) == sorted(steps)             # each node completed exactly once
        assert [e.seq for e in events] == list(range(1, len(events) + 1))


def test_redis_restart_during_a_run_loses_nothing(chaos_stack, own):
    _, broker = own
    ids = [submit(chaos_stack, slow_chain(chaos_stack, f"redis-{i}")) for i in range(RUNS)]
    time.sleep(0.8)                                   # some steps done, some queued, some running
    assert any(state(chaos_stack, i)[0].status not in EXECUTION_TERMINAL for i in ids)
    broker.close()                                    # every message in the broker is gone
    time.sleep(2)
    broker.start()
    assert_every_step_ran_once(chaos_stack, ids)


def test_postgresql_restart_during_a_run_loses_nothing(chaos_stack, own):
    postgres, _ = own
    ids = [submit(chaos_stack, slow_chain(chaos_stack, f"pg-{i}")) for i in range(RUNS)]
    time.sleep(0.8)
    assert any(state(chaos_stack, i)[0].status not in EXECUTION_TERMINAL for i in ids)
    postgres.stop("fast")                             # connections are cut mid-transaction
    time.sleep(2)
    postgres.start()
    assert_every_step_ran_once(chaos_stack, ids)
