"""DESIGN section 4: restart Redis, restart PostgreSQL during a run: every execution still
reaches a terminal state and no step is lost or duplicated in the database. Both servers
are private to this module (started from the installed binaries), so they can be stopped."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from orchestrator.states import EXECUTION_TERMINAL
from tests.support.api import BOOTSTRAP_KEY, workflow_fixture
from tests.support.servers import free_port, private_servers
from tests.support.stack import finished, http_node, running_stack, state, submit
from tests.support.waiting import until

pytestmark = pytest.mark.integration
CHAIN = 5
RUNS = 4


@pytest.fixture(scope="module")
def own():
    with private_servers() as servers:
        yield servers


@pytest.fixture(scope="module")
def chaos_stack(own, tmp_path_factory):
    _, broker, database = own
    with running_stack(tmp_path_factory.mktemp("chaos"), database, f"{broker.url}/0",
                       ORCHESTRATOR_REQUEUE_AFTER_SECONDS="3") as stack:
        yield stack


def slow_chain(stack, name: str) -> dict:
    nodes = [http_node(f"n{i}", f"{stack.http.url}/slow?s=0.3&key={name}-{i}") for i in range(CHAIN)]
    return {"name": name, "nodes": nodes, "edges": [{"source": f"n{i}", "target": f"n{i + 1}"}
                                                     for i in range(CHAIN - 1)]}


def a_second_node_called(stack, names) -> bool:
    """A chain's first node has completed and its second runs."""
    return any(stack.http.hits[f"{name}-1"] for name in names)


def assert_every_step_ran_once(stack, execution_ids, names=()):
    """Each node completed once in the database and, for ``names``, called out once."""
    for execution_id in execution_ids:
        execution, steps, events = finished(stack, execution_id, timeout=90)
        assert execution.status == "completed", (execution.error_message, stack.workers.logs())
        assert sorted(steps) == [f"n{i}" for i in range(CHAIN)]
        assert all(step.status == "completed" for step in steps.values())
        completed = [e.node_id for e in events if e.event_type == "step_completed"]
        assert sorted(completed) == sorted(steps)             # each node completed exactly once
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for name in names:
        assert [stack.http.hits[f"{name}-{i}"] for i in range(CHAIN)] == [1] * CHAIN, name


def test_redis_restart_during_a_run_loses_nothing(chaos_stack, own):
    _, broker, _ = own
    names = [f"redis-{i}" for i in range(RUNS)]
    ids = [submit(chaos_stack, slow_chain(chaos_stack, name)) for name in names]
    until("some steps are done, some queued, some running", lambda: a_second_node_called(chaos_stack, names))
    assert any(state(chaos_stack, i)[0].status not in EXECUTION_TERMINAL for i in ids)
    broker.close()                                    # every message in the broker is gone
    time.sleep(2)
    broker.start()
    assert_every_step_ran_once(chaos_stack, ids)


def test_postgresql_restart_during_a_run_loses_nothing_and_repeats_nothing(chaos_stack, own):
    """Leases run out while the server is away (2 s each here): the sweepers give live workers a
    lease period after it is back to renew them, so no node runs twice."""
    postgres, _, _ = own
    names = [f"pg-{i}" for i in range(RUNS)]
    ids = [submit(chaos_stack, slow_chain(chaos_stack, name)) for name in names]
    until("some steps are done, some queued, some running", lambda: a_second_node_called(chaos_stack, names))
    assert any(state(chaos_stack, i)[0].status not in EXECUTION_TERMINAL for i in ids)
    postgres.stop("fast")                             # connections are cut mid-transaction
    time.sleep(2.5)
    postgres.start()
    assert_every_step_ran_once(chaos_stack, ids, names)


def test_the_api_answers_across_a_postgresql_restart(chaos_stack, own):
    """Every pooled connection of the API is dead after the restart: reads and writes still
    answer (its pool tests connections first); a read sent while the server is down waits
    for it and answers too."""
    postgres, _, _ = own
    url = chaos_stack.workers.start_api("api", free_port(), {"ORCHESTRATOR_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY})
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {BOOTSTRAP_KEY}"
    with ThreadPoolExecutor(8) as pool:                   # the pool holds several connections
        assert set(pool.map(lambda _: api.get(f"{url}/api/v1/workflows", timeout=30).status_code, range(16))) == {200}
    postgres.stop("fast")
    answered = []
    waiting = threading.Thread(target=lambda: answered.append(api.get(f"{url}/api/v1/executions", timeout=30)))
    waiting.start()
    time.sleep(1)
    postgres.start()
    waiting.join(30)
    assert answered[0].status_code == 200, answered[0].text
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lambda _: api.get(f"{url}/api/v1/workflows", timeout=30).status_code, range(16))) == {200}
    created = api.post(f"{url}/api/v1/workflows", json={"definition": workflow_fixture("chain")}, timeout=30)
    assert created.status_code == 201, created.text
