"""Turns with real workers: a worker killed with SIGKILL during a turn, or between two turns,
repeats no finished turn (DESIGN section 10)."""
from __future__ import annotations

import time

import pytest

import tests.support.plugin_app  # noqa: F401 - registers http_turns here too (the definition is checked on submit)
from tests.support.stack import finished, running_stack, state, submit, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("turns"), servers.create_database(), servers.claim_redis_db(),
                       app="tests.support.plugin_app") as running:
        yield running


def turns(stack, **config) -> dict:
    return {"name": "turns", "nodes": [{"id": "loop", "type": "http_turns",
                                        "config": {"url": stack.http.url, **config}}]}


def hits(stack, execution_id, turns_: int) -> list[int]:
    return [stack.http.hits[f"{execution_id}-{t}"] for t in range(turns_ + 1)]


def test_a_worker_killed_during_a_turn_repeats_only_that_turn(stack):
    execution_id = submit(stack, turns(stack, turns=4, slow_turn=2, sleep=4))
    deadline = time.monotonic() + 20
    while stack.http.hits[f"slow-{execution_id}-2"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    _, steps, _ = state(stack, execution_id)
    victim = steps["loop"].worker.split("@")[0]
    stack.workers.kill(victim)                                   # mid-turn: its result never comes
    stack.workers.start(victim, app="tests.support.plugin_app")
    execution, steps, events = finished(stack, execution_id, timeout=60)
    assert execution.status == "completed", (execution.error_message, stack.workers.logs())
    assert steps["loop"].output == {"done": [0, 1, 2, 3, 4]} and steps["loop"].attempt == 2
    assert hits(stack, execution_id, 4) == [1, 1, 2, 1, 1]       # only the turn in flight ran twice
    assert [e.data["turn"] for e in events if e.event_type == "step_turn"] == [1, 2, 3, 4]


def test_workers_killed_between_turns_repeat_no_turn(stack):
    execution_id = submit(stack, turns(stack, turns=3, between_seconds=1.5))
    wait_until(stack, execution_id, lambda e, steps, _: steps["loop"].turn == 1 and steps["loop"].status == "queued")
    for name in list(stack.workers.procs):                      # the next turn's message dies with them
        stack.workers.kill(name)
    for name in ("w1", "w2"):
        stack.workers.start(name, app="tests.support.plugin_app")
    execution, steps, _ = finished(stack, execution_id, timeout=60)
    assert execution.status == "completed", (execution.error_message, stack.workers.logs())
    assert steps["loop"].output == {"done": [0, 1, 2, 3]} and steps["loop"].attempt == 1
    assert hits(stack, execution_id, 3) == [1, 1, 1, 1]
