"""Workers survive the broker: Redis restarted, or away for several seconds, while the workers
hold countdown messages (short delays, retry backoffs, parked model turns) unacknowledged.
Every worker process stays up, consumes again once Redis is back, and every execution
completes. While it is away the API accepts submissions with one warning line, and the
workers stop touching the file their health check reads. Redis is private to this module (it
is stopped); nothing is kept on its disk, so every message in it is lost and the sweeper sends
them again."""
from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timezone

import pytest
import redis
import requests

from examples import llm_server as llm
from orchestrator.services import providers
from tests.integration import test_llm_e2e as llm_e2e
from tests.support.api import BOOTSTRAP_KEY
from tests.support.servers import OwnRedis, free_port
from tests.support.stack import finished, running_stack, state, submit

pytestmark = pytest.mark.integration
provider_server = llm_e2e.provider_server          # the offline model provider, this module's own
RUNS = 6
# Long enough for several rounds of a worker's reconnect loop (it tries again after 2 s, 4 s, ...).
OUTAGE_SECONDS = 7


@pytest.fixture(scope="module")
def broker():
    own = OwnRedis()
    yield own
    own.close()


@pytest.fixture(scope="module")
def stack(servers, broker, provider_server, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("broker"), servers.create_database(), f"{broker.url}/0",
                       ORCHESTRATOR_LLM_ALLOW_PRIVATE="1", ORCHESTRATOR_REQUEUE_AFTER_SECONDS="3") as running:
        with running.engine.sessions.begin() as s:
            owner = s.merge(running.owner)
            for i in range(RUNS):       # one each: a credential cooled down by a 429 fails the others' calls
                provider = providers.create_provider(s, owner, f"p{i}", "openai")
                providers.create_endpoint(s, running.engine.settings, owner, provider.id, "main",
                                          f"{provider_server.url}/v1", retry_count=0)
                providers.create_model(s, owner, provider.id, "m1", input_price=0.5, output_price=1.5)
                providers.create_credential(s, running.engine.keyring, owner, provider.id,
                                            f"sk-broker-{i}-0123456789abcdef")
        yield running


@pytest.fixture(scope="module")
def api(stack) -> str:
    """The API (gunicorn) of the stack, on the same private Redis."""
    return stack.workers.start_api("api", free_port(), {"ORCHESTRATOR_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY})


def waits(stack, name: str, provider: str) -> dict:
    """Three branches that each park a step for a second or two, then a join: a chain of 1 s
    delays, an http node that fails twice with a 1 s backoff, and an llm node that a 429 parks."""
    nodes = [*({"id": f"d{i}", "type": "delay", "config": {"seconds": 1}} for i in range(3)),
             {"id": "fetch", "type": "http_request", "config": {"url": f"{stack.http.url}/flaky?fail=2&key={name}"},
              "retry": {"max_attempts": 3, "backoff_seconds": 1, "backoff_factor": 1}},
             {"id": "ask", "type": "llm", "config": {"model": f"{provider}/m1", "prompt": "Say hello"}},
             {"id": "done", "type": "noop"}]
    edges = [{"source": "d0", "target": "d1"}, {"source": "d1", "target": "d2"},
             *({"source": s, "target": "done"} for s in ("d2", "fetch", "ask"))]
    return {"name": name, "nodes": nodes, "edges": edges}


def parked(stack, execution_ids) -> set[str] | None:
    """The node kinds (d, fetch, ask) that have a step waiting for a later instant, or None
    while any step runs or is due now: then the workers are idle, waiting on the broker."""
    now, found = datetime.now(timezone.utc), set()
    for execution_id in execution_ids:
        _, steps, _ = state(stack, execution_id)
        for node, step in steps.items():
            if step.status == "running" or step.status == "queued" and (step.not_before or now) <= now:
                return None
            if step.status in ("queued", "waiting") and step.not_before is not None:
                found.add(node.rstrip("012"))
    return found


def start_waiting(stack, broker, provider_server, label: str) -> list:
    """Submit the workload and return once every kind of wait is parked, no step runs, and the
    workers hold countdown messages they have not acknowledged (kombu's `unacked` hash)."""
    provider_server.script(*[llm.error(429, "slow down", retry_after=2)] * RUNS)
    ids = [submit(stack, waits(stack, f"{label}-{i}", f"p{i}")) for i in range(RUNS)]
    client = redis.Redis.from_url(f"{broker.url}/0")
    deadline = time.monotonic() + 20
    while not (parked(stack, ids) == {"d", "fetch", "ask"} and client.hlen("unacked")):
        assert time.monotonic() < deadline, (parked(stack, ids), client.hlen("unacked"), stack.workers.logs())
        time.sleep(0.02)
    return ids


def log(stack, worker: str) -> str:
    return (stack.workers.log_dir / f"worker-{worker}.log").read_text()


def broker_away(stack, broker, ids, seconds: float, meanwhile=lambda: None) -> dict[str, str]:
    """Stop Redis for ``seconds`` (doing ``meanwhile``), start it again, then check that every
    execution of ``ids`` completed and every worker process is up and consumed again; returns
    each worker's log since the stop."""
    before = {name: len(log(stack, name)) for name in stack.workers.procs if name.startswith("w")}
    broker.close()
    stopped = time.monotonic()
    meanwhile()
    time.sleep(max(0.0, seconds - (time.monotonic() - stopped)))
    broker.start()
    for execution_id in ids:
        execution, steps, _ = finished(stack, execution_id, timeout=60)
        assert execution.status == "completed", (execution.error_message, stack.workers.logs())
        assert all(step.status == "completed" for step in steps.values())
    since = {name: log(stack, name)[start:] for name, start in before.items()}
    for name, text in since.items():
        assert stack.workers.procs[name].poll() is None, f"worker {name} exited:\n{text[-3000:]}"
        assert "Unrecoverable error" not in text
        assert "Connected to" in text, f"worker {name} did not reconnect:\n{text[-3000:]}"
        after = text.rsplit("Connected to", 1)[1]
        assert re.search(r"Task \S+ received", after), f"worker {name} consumed nothing since it reconnected"
    return since


def test_a_redis_restart_with_countdown_messages_in_flight(stack, broker, provider_server):
    ids = start_waiting(stack, broker, provider_server, "restart")
    broker_away(stack, broker, ids, 0)


def test_a_broker_outage_of_several_seconds(stack, broker, provider_server, api):
    api, auth = f"{api}/api/v1", {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
    workflow = requests.post(f"{api}/workflows", headers=auth, timeout=10, json={"definition": {
        "name": "during", "nodes": [{"id": "a", "type": "noop"}]}}).json()
    requests.post(f"{api}/workflows/{workflow['id']}/publish", headers=auth, timeout=10).raise_for_status()
    alive = stack.engine.settings.data_dir / "worker.alive"
    ids = start_waiting(stack, broker, provider_server, "outage")
    assert time.time() - alive.stat().st_mtime < 10                  # touched while consuming

    def submit_meanwhile() -> None:
        time.sleep(1)                                                # the workers have seen it go
        touched = alive.stat().st_mtime
        for _ in range(7):
            accepted = requests.post(f"{api}/workflows/{workflow['id']}/executions", headers=auth, timeout=30,
                                     json={"input": {}})
            assert accepted.status_code == 202, accepted.text
            ids.append(uuid.UUID(accepted.json()["id"]))
        assert alive.stat().st_mtime == touched                     # no consumer touches it meanwhile

    for name, text in broker_away(stack, broker, ids, OUTAGE_SECONDS, submit_meanwhile).items():
        assert text.count("Trying again in") >= 3, f"worker {name}: {text[-3000:]}"
    api_log = (stack.workers.log_dir / "api-api.log").read_text()
    assert "Traceback" not in api_log and api_log.count("broker unavailable") == 1, api_log[-3000:]
    assert time.time() - alive.stat().st_mtime < 10                  # consuming again
