"""Flower tells the truth about node tasks: two Procfile workers with their own names, a failed
attempt as FAILURE, bounded task names with the execution id in the arguments."""
from __future__ import annotations

import json
import re
import time

import pytest
import requests

from tests.support.servers import free_port
from tests.support.stack import finished, running_stack, submit
from tests.support.api import workflow_fixture

pytestmark = pytest.mark.integration
LOGIN = ("ops", "flower-test-password")


@pytest.fixture(scope="module")
def flower(servers, tmp_path_factory):
    """A stack whose workers are two of the Procfile's `worker`, watched by the Procfile's `flower`."""
    with running_stack(tmp_path_factory.mktemp("flower"), servers.create_database(), servers.claim_redis_db(),
                       workers=0) as stack:
        port = free_port()
        stack.workers.start_procfile("flower", "flower", b"Visit me at",
                                     {"FLOWER_PORT": str(port), "FLOWER_BASIC_AUTH": ":".join(LOGIN)})
        for name in ("one", "two"):
            stack.workers.start_procfile(name, "worker", b" ready.", {"WORKER_CONCURRENCY": "2"})
        yield stack, f"http://127.0.0.1:{port}"


def ask(base: str, path: str, **params):
    response = requests.get(base + path, params=params, auth=LOGIN, timeout=10)
    response.raise_for_status()
    return response.json()


def until(probe, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while not (found := probe()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_flower_needs_its_login(flower):
    _, base = flower
    assert requests.get(f"{base}/api/tasks", timeout=10).status_code == 401
    assert requests.get(f"{base}/healthcheck", timeout=10).text == "OK"


def test_a_failed_attempt_is_failure_and_a_good_one_success(flower):
    stack, base = flower
    failing = submit(stack, workflow_fixture("fails"), {"n": 1})
    assert finished(stack, failing)[0].status == "failed"

    def tasks_of_the_execution():
        tasks = [t for t in ask(base, "/api/tasks").values() if str(failing) in (t.get("kwargs") or "")]
        return tasks if {t["state"] for t in tasks} >= {"SUCCESS", "FAILURE"} else None

    tasks = until(tasks_of_the_execution)
    assert tasks, json.dumps(ask(base, "/api/tasks"), indent=1)[:3000]
    states = {t["name"]: t["state"] for t in tasks}
    assert states == {"transform:first": "SUCCESS", "transform:broken": "FAILURE"}
    broken = next(t for t in tasks if t["name"] == "transform:broken")
    assert "AttemptFailed" in broken["exception"] and broken["retries"] == 0
    assert all(re.fullmatch(r"[a-z_]+:[a-z_]+", t["name"]) for t in ask(base, "/api/tasks").values())

    def failures_by_worker():
        counts = {w["hostname"]: w.get("task-failed", 0) for w in ask(base, "/workers", json=1)["data"]}
        return counts if sum(counts.values()) >= 1 else None

    assert sum(until(failures_by_worker).values()) == 1


def test_each_procfile_worker_has_its_own_name(flower):
    _, base = flower
    def names():
        found = set(ask(base, "/api/workers", refresh=1))
        return found if len(found) >= 2 else None

    seen = until(names)
    assert seen and len(seen) == 2 and all(name.startswith("worker-") for name in seen), seen
