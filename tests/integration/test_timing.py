"""Short waits start on time, not on the sweeper's next round: a retry backoff goes out with a
broker countdown, and the sweeper sleeps until the next delay falls due. The sweeper's
interval here is 5 s, so a wait left to it would start seconds late."""
from __future__ import annotations

import pytest

from tests.support.stack import finished, http_node, running_stack, submit

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("timing"), servers.create_database(), servers.claim_redis_db(),
                       ORCHESTRATOR_SWEEP_INTERVAL_SECONDS="5") as running:
        yield running


def test_a_half_second_retry_starts_within_a_third_of_a_second_of_due(stack):
    node = http_node("fetch", f"{stack.http.url}/flaky?key=timing&fail=1",
                     retry={"max_attempts": 2, "backoff_seconds": 0.5})
    execution, steps, events = finished(stack, submit(stack, {"name": "retry", "nodes": [node]}))
    assert execution.status == "completed" and steps["fetch"].attempt == 2
    queued = next(e for e in events if e.event_type == "step_queued" and e.attempt == 2)
    started = next(e for e in events if e.event_type == "step_running" and e.attempt == 2)
    late = (started.created_at - queued.created_at).total_seconds() - 0.5
    assert -0.05 <= late <= 0.3, late


def test_a_one_second_delay_ends_within_a_third_of_a_second_of_due(stack):
    definition = {"name": "delay", "nodes": [{"id": "wait", "type": "delay", "config": {"seconds": 1}}]}
    execution, steps, events = finished(stack, submit(stack, definition))
    assert execution.status == "completed"
    waiting = next(e for e in events if e.event_type == "step_waiting")
    done = next(e for e in events if e.event_type == "step_completed")
    late = (done.created_at - waiting.created_at).total_seconds() - 1
    assert 0 <= late <= 0.3, late
