"""/metrics as operators scrape it: the Procfile's web (gunicorn, several workers) and a
Procfile worker's own endpoint, checked by promtool; scrape time independent of history."""
from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from orchestrator.services import workflows
from tests.support.api import BOOTSTRAP_KEY, workflow_fixture
from tests.support.servers import free_port
from tests.support.stack import finished, running_stack, submit

pytestmark = pytest.mark.integration
WEB_WORKERS = 4


@pytest.fixture(scope="module")
def deployed(servers, tmp_path_factory):
    """A database, Redis, the Procfile's web with 4 gunicorn workers and one Procfile worker
    serving its metrics."""
    with running_stack(tmp_path_factory.mktemp("metrics"), servers.create_database(), servers.claim_redis_db(),
                       workers=0, ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY) as stack:
        web, worker = free_port(), free_port()
        stack.workers.start_procfile("web", "web", b"Booting worker",
                                     {"PORT": str(web), "WEB_CONCURRENCY": str(WEB_WORKERS)})
        stack.workers.start_procfile("worker", "worker", b" ready.",
                                     {"ORCHESTRATOR_WORKER_METRICS_PORT": str(worker), "WORKER_CONCURRENCY": "2"})
        yield stack, f"http://127.0.0.1:{web}", f"http://127.0.0.1:{worker}"


def scrape(url: str) -> str:
    response = requests.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200
    return response.text


def samples(exposition: str) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(exposition) for s in family.samples}


def promtool(exposition: str) -> None:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    checked = subprocess.run([tool, "check", "metrics"], input=exposition, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_api_figures_are_summed_over_the_gunicorn_workers_and_pass_promtool(deployed):
    _, web, _ = deployed
    auth = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
    for _ in range(8):           # new connections: gunicorn hands them to different workers
        created = requests.post(f"{web}/api/v1/workflows", json={"definition": workflow_fixture("chain")},
                                headers={**auth, "Connection": "close"}, timeout=30)
        assert created.status_code == 201
    posted = ("orchestrator_api_request_duration_seconds_count",
              (("method", "POST"), ("route", "/api/v1/workflows"), ("status", "201")))
    for _ in range(2 * WEB_WORKERS):    # whichever worker answers, it answers for all
        exposition = scrape(web)
        assert samples(exposition)[posted] == 8
    names = {name for name, _ in samples(exposition)}
    assert not any(name.startswith(("orchestrator_step_", "orchestrator_schedule_fire")) for name in names)
    promtool(exposition)


def test_a_worker_serves_its_metrics_and_they_pass_promtool(deployed):
    stack, _, worker = deployed
    execution_id = submit(stack, {"name": "counted", "nodes": [{"id": "a", "type": "noop"}]})
    assert finished(stack, execution_id)[0].status == "completed"
    exposition = scrape(worker)
    up = [labels for (name, labels), value in samples(exposition).items() if name == "orchestrator_worker_up"]
    assert len(up) == 1 and dict(up[0])["node"].startswith("worker-") and dict(up[0])["role"] == "worker"
    assert any(name == "orchestrator_build_info" for name, _ in samples(exposition))
    families = {family.name for family in text_string_to_metric_families(exposition)}
    assert "orchestrator_step_attempts" in families                         # what a worker produces
    assert not families & {"orchestrator_api_request_duration_seconds", "orchestrator_executions_rate_limited",
                           "orchestrator_schedule_misfires"}                # what only the API or beat does
    promtool(exposition)


def metrics_dir(group: subprocess.Popen) -> Path:
    """PROMETHEUS_MULTIPROC_DIR as the command of a Procfile process group sees it."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:                               # gone meanwhile
            continue
        if int(fields[1]) == group.pid:               # the parent's pid: the launcher's child
            environ = (stat.parent / "environ").read_bytes().split(b"\0")
            values = dict(item.decode().split("=", 1) for item in environ if b"=" in item)
            return Path(values["PROMETHEUS_MULTIPROC_DIR"])
    raise LookupError(f"no child of {group.pid}")


def test_each_process_group_has_its_own_metrics_directory_removed_at_exit(deployed):
    stack, _, _ = deployed
    port = free_port()
    stack.workers.start_procfile("web2", "web", b"Booting worker", {"PORT": str(port), "WEB_CONCURRENCY": "1"})
    web = stack.workers.procs.pop("web2")
    mine = metrics_dir(web)
    assert mine != metrics_dir(stack.workers.procs["worker"]) and mine.is_dir()
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    assert any(mine.iterdir())                                # the gunicorn worker's counter files
    os.killpg(web.pid, signal.SIGTERM)
    assert web.wait(30) == 0 and not mine.exists()


def add_history(stack, rows: int) -> None:
    """``rows`` finished executions, each with a finished step, as months of use leave them."""
    engine, owner = stack.engine, stack.owner
    with engine.sessions.begin() as s:
        workflow = workflows.create_workflow(s, engine.keyring, owner, workflow_fixture("chain"))
        version_id = s.scalar(text("SELECT id FROM workflow_versions WHERE workflow_id = :w"), {"w": workflow.id})
        s.execute(text("""
            INSERT INTO executions (id, workflow_id, workflow_version_id, version, owner_id, status, trigger,
                                    event_seq, step_count, depth, total_tokens, created_at, updated_at, started_at,
                                    completed_at, duration_ms)
            SELECT gen_random_uuid(), :w, :v, 1, :o, 'completed', 'api', 0, 1, 0, 0, now(), now(), now(), now(), 20
            FROM generate_series(1, :n)"""), {"w": workflow.id, "v": version_id, "o": owner.id, "n": rows})
        s.execute(text("""
            INSERT INTO execution_steps (id, execution_id, node_id, node_type, status, attempt, turn, failed_attempts,
                                         created_at, updated_at, duration_ms)
            SELECT gen_random_uuid(), id, 'a', 'transform', 'completed', 1, 0, 0, now(), now(), 20
            FROM executions WHERE workflow_id = :w"""), {"w": workflow.id})
    with engine.sessions.begin() as s:         # fresh planner statistics, as autovacuum keeps them
        s.execute(text("ANALYZE executions"))
        s.execute(text("ANALYZE execution_steps"))


def scrape_seconds(url: str, times: int = 30) -> float:
    for _ in range(2 * WEB_WORKERS):        # every gunicorn worker warmed up: connections made
        scrape(url)
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        scrape(url)
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def test_scrape_time_does_not_grow_with_history(deployed, capsys):
    stack, web, _ = deployed
    add_history(stack, 100)
    small = scrape_seconds(web)
    add_history(stack, 100_000 - 100)
    large = scrape_seconds(web)
    with capsys.disabled():
        print(f"\nscrape median: {small * 1000:.1f} ms at 100 executions, {large * 1000:.1f} ms at 100k "
              f"(ratio {large / small:.2f})")
    assert large <= 2 * small
