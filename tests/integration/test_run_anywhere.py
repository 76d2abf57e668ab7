"""How people meet the product: `orchestrator standalone`, `orchestrator run` on each example,
and the Procfile's processes as a production deployment on PostgreSQL and Redis."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from orchestrator.crypto import generate_key
from orchestrator.cli.standalone import api_ready
from tests.support.servers import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
ORCHESTRATOR = [sys.executable, "-m", "orchestrator.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORCHESTRATOR_", "DATABASE_URL", "BROKER_URL"))}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


@pytest.fixture(scope="module")
def example_service():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "examples" / "service.py"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/articles?topic=agents", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(10)


def run_cli(tmp_path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    env = clean_env(ORCHESTRATOR_DATA_DIR=str(tmp_path / "data"), ORCHESTRATOR_HTTP_ALLOW_PRIVATE="1",
                    COLUMNS="200")
    return subprocess.run([*ORCHESTRATOR, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_run_digest_example(tmp_path, example_service):
    result = run_cli(tmp_path, "run", "examples/digest.yaml", "--input", json.dumps({"base_url": example_service}))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed" in result.stdout
    assert re.search(r'"articles": 6', result.stdout)
    assert '"headline": "SQLAlchemy 2 in practice"' in result.stdout
    for node in ("agents", "python", "databases", "digest"):
        assert re.search(rf"✓ {node}", result.stdout)
    assert "research-digest v1" in result.stdout
    again = run_cli(tmp_path, "run", "examples/digest.yaml", "--input", json.dumps({"base_url": example_service}))
    assert again.returncode == 0 and "research-digest v1" in again.stdout   # unchanged file: no new version


def test_run_map_example_with_its_child_workflow(tmp_path, example_service):
    result = run_cli(tmp_path, "run", "examples/topic_map.yaml", "--with", "examples/topic_summary.yaml",
                     "--input", json.dumps({"base_url": example_service, "topics": ["python", "agents"]}))
    assert result.returncode == 0, result.stdout + result.stderr
    output = json.loads(result.stdout[result.stdout.rindex("\n{"):])
    assert output["topics"] == ["python", "agents"] and output["articles"] == 5
    assert output["words"] > 0


@pytest.mark.parametrize("failures, branch", [(1, "live"), (5, "cache")])
def test_run_retrying_fetch_example(tmp_path, example_service, failures, branch):
    result = run_cli(tmp_path, "run", "examples/retrying_fetch.yaml", "--input",
                     json.dumps({"base_url": example_service, "failures": failures}))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f'"source": "{branch}"' in result.stdout
    assert "↻ fetch" in result.stdout                        # the retry was shown


@pytest.mark.parametrize("decision, status, exit_code", [("approve", "published", 0), ("reject", "archived", 0)])
def test_run_approval_example(tmp_path, decision, status, exit_code):
    result = run_cli(tmp_path, "run", "examples/approval.yaml", "--approve", decision)
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert f'"status": "{status}"' in result.stdout


def test_run_exits_non_zero_when_the_execution_fails_and_names_bad_files(tmp_path):
    bad = tmp_path / "fails.yaml"
    bad.write_text("name: fails\nnodes:\n  - {id: boom, type: http_request, config: {url: 'http://127.0.0.1:9/'}}\n")
    result = run_cli(tmp_path, "run", str(bad))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failed" in result.stdout
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("name: x\nnodes:\n  - {id: a, type: nope}\n")
    result = run_cli(tmp_path, "run", str(invalid))
    assert result.returncode == 2 and "unknown node type 'nope'" in result.stderr


def _start_standalone(tmp_path, port: int) -> tuple[subprocess.Popen, str]:
    env = clean_env(ORCHESTRATOR_DATA_DIR=str(tmp_path / "data"), COLUMNS="200")
    proc = subprocess.Popen([*ORCHESTRATOR, "standalone", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "API key" in line:
            return proc, line.split()[-1]
    raise AssertionError("standalone did not print an API key:\n" + "".join(lines))


def test_standalone_end_to_end_and_data_survives_a_restart(tmp_path):
    port = free_port()
    proc, key = _start_standalone(tmp_path, port)
    api = f"http://127.0.0.1:{port}/api/v1"
    headers = {"Authorization": f"Bearer {key}"}
    try:
        assert requests.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
        workflow = requests.post(f"{api}/workflows", headers=headers, timeout=10, json={
            "name": "standalone", "definition": {"name": "standalone", "nodes": [
                {"id": "a", "type": "transform", "config": {"output": {"n": "{{ input.n * 2 }}"}}}]}}).json()
        execution = requests.post(f"{api}/workflows/{workflow['id']}/executions", headers=headers, timeout=10,
                                  json={"input": {"n": 21}}).json()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = requests.get(f"{api}/executions/{execution['id']}", headers=headers, timeout=5).json()
            if body["status"] == "completed":
                break
            time.sleep(0.2)
        assert body["status"] == "completed" and body["output"] == {"a": {"n": 42}}
        # The CLI on the same data directory uses this standalone, on whatever port it runs.
        listed = run_cli(tmp_path, "executions", "list", "--json")
        assert [e["id"] for e in json.loads(listed.stdout)["items"]] == [execution["id"]], listed.stderr
        checked = run_cli(tmp_path, "workflows", "validate", "examples/topic_map.yaml", "--json")
        assert json.loads(checked.stdout)["checked_against"] == f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0                            # Ctrl-C stops everything cleanly
    assert not (tmp_path / "data" / "standalone-url").exists()
    proc, again = _start_standalone(tmp_path, port)
    try:
        assert again == key
        body = requests.get(f"{api}/executions/{execution['id']}", headers=headers, timeout=5).json()
        assert body["status"] == "completed" and body["output"] == {"a": {"n": 42}}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def procfile() -> dict[str, str]:
    return dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())


def test_procfile_deployment_on_postgresql_and_redis(tmp_path, servers):
    port, flower_port = free_port(), free_port()
    key = "ork_procfile_" + "k" * 32
    env = clean_env(DATABASE_URL=servers.create_database(), BROKER_URL=servers.claim_redis_db(),
                    ORCHESTRATOR_ENCRYPTION_KEYS=generate_key(), ORCHESTRATOR_BOOTSTRAP_API_KEY=key,
                    ORCHESTRATOR_DATA_DIR=str(tmp_path), ORCHESTRATOR_HTTP_ALLOW_PRIVATE="1", PORT=str(port), FLOWER_PORT=str(flower_port),
                    FLOWER_ADDRESS="127.0.0.1", FLOWER_UNAUTHENTICATED_API="true", WORKER_CONCURRENCY="1",
                    WEB_CONCURRENCY="1",
                    PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    commands = procfile()
    assert set(commands) == {"release", "web", "worker", "beat", "flower"}
    subprocess.run(["bash", "-c", commands["release"]], env=env, cwd=ROOT, check=True, timeout=120)
    procs = []
    for name, count in (("web", 1), ("worker", 2), ("beat", 1), ("flower", 1)):
        for i in range(count):
            log = open(tmp_path / f"{name}{i}.log", "wb")
            procs.append(subprocess.Popen(["bash", "-c", commands[name]], env=env, cwd=ROOT, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True))
    api, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
    try:
        deadline = time.monotonic() + 60
        while not api_ready(api) and time.monotonic() < deadline:
            time.sleep(0.3)
        nodes = [{"id": f"b{i}", "type": "http_request",
                  "config": {"url": f"{api}/healthz", "timeout_seconds": 5}} for i in range(6)]
        definition = {"name": "procfile", "nodes": [{"id": "start", "type": "noop"}, *nodes],
                      "edges": [{"source": "start", "target": f"b{i}"} for i in range(6)]}
        workflow = requests.post(f"{api}/api/v1/workflows", headers=headers, timeout=10,
                                  json={"name": "procfile", "definition": definition}).json()
        execution = requests.post(f"{api}/api/v1/workflows/{workflow['id']}/executions", headers=headers,
                                  timeout=10, json={"input": {}}).json()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = requests.get(f"{api}/api/v1/executions/{execution['id']}", headers=headers, timeout=5).json()
            if body["status"] not in ("pending", "running"):
                break
            time.sleep(0.2)
        steps = requests.get(f"{api}/api/v1/executions/{execution['id']}/steps", headers=headers, timeout=5).json()
        logs = {p.name: p.read_text()[-2000:] for p in tmp_path.glob("*.log")}
        assert body["status"] == "completed", (body, logs)
        worker_of = {s["node_id"]: s.get("worker") for s in steps["items"]}
        tasks = requests.get(f"http://127.0.0.1:{flower_port}/api/tasks", timeout=10).json()
        names = {t["name"] for t in tasks.values()}
        assert any(name and name.startswith("http_request:b") for name in names), names
        hostnames = {t["worker"] for t in tasks.values() if t.get("worker")}
        assert len(hostnames) == 2 and all(h.startswith("worker-") for h in hostnames), (hostnames, worker_of)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def test_compose_file_is_valid():
    cli = next((c for c in (["docker-compose"], ["docker", "compose"]) if _works([*c, "version"])), None)
    if cli is None:
        pytest.skip("no docker compose CLI on this machine (apt-get install docker-compose)")
    env = {**os.environ, "ORCHESTRATOR_ENCRYPTION_KEYS": generate_key()}
    result = subprocess.run([*cli, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    services = subprocess.run([*cli, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"], env=env,
                              capture_output=True, text=True, timeout=60).stdout.split()
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker", "beat", "flower"}


def _works(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
