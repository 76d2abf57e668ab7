"""The deployable image and compose stack: checked as files everywhere, and run end to end
when a Docker engine with the compose plugin is available."""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import fields

import pytest
import requests
import yaml

from orchestrator.crypto import generate_key
from orchestrator.definitions.model import NodeSpec
from tests.support.servers import free_port
from tests.support.workers import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
ONE_SHOT = {"migrate"}
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def seconds(duration: str) -> int:
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[unit] for n, unit in re.findall(r"(\d+)([hms])", duration))


def test_every_long_running_service_has_a_healthcheck():
    for name, service in SERVICES.items():
        if name not in ONE_SHOT:
            assert service.get("healthcheck", {}).get("test"), name
    assert SERVICES["migrate"]["restart"] == "no"
    assert re.search(r"^HEALTHCHECK .*\n.*CMD", DOCKERFILE, re.M)


def test_every_long_running_service_is_restarted_when_it_exits():
    for name, service in SERVICES.items():
        if name not in ONE_SHOT:
            assert service.get("restart") in ("always", "unless-stopped"), name


def test_api_workers_and_beat_run_as_process_groups_with_light_health_checks():
    """orchestrator.procgroup owns each one's metrics directory; a health check starts no
    process that imports Celery and the app."""
    group = ["python", "-m", "orchestrator.procgroup"]
    for name in ("api", "worker", "beat"):
        assert SERVICES[name]["command"][:3] == group, name
        assert "celery" not in " ".join(SERVICES[name]["healthcheck"]["test"]), name
    assert "/data/worker.alive" in " ".join(SERVICES["worker"]["healthcheck"]["test"])
    assert re.search(r'^CMD \["python", "-m", "orchestrator.procgroup", "gunicorn"', DOCKERFILE, re.M)
    assert "PROMETHEUS_MULTIPROC_DIR" not in DOCKERFILE                 # no fixed directory that outlives a run
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    for name in ("web", "worker", "beat"):
        assert procfile[name].startswith("exec python -m orchestrator.procgroup "), name


def test_no_secret_is_written_in_the_compose_file():
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|KEY|AUTH|DATABASE_URL", key):
                assert "${" in str(value) and ":?" in str(value) or value.startswith("${") and value.endswith(":-}"), \
                    (name, key, value)
    assert "orchestrator:orchestrator@" not in (ROOT / "docker-compose.yml").read_text()


def test_flower_is_on_loopback_and_needs_a_password():
    flower = SERVICES["flower"]
    assert all(port.startswith("127.0.0.1:") for port in flower["ports"])
    assert ":?" in flower["environment"]["FLOWER_BASIC_AUTH"]


def test_workers_get_longer_to_stop_than_a_node_may_run():
    default_timeout = next(f.default for f in fields(NodeSpec) if f.name == "timeout_seconds")
    assert seconds(SERVICES["worker"]["stop_grace_period"]) > default_timeout


def test_worker_and_beat_honour_log_level():
    for name in ("worker", "beat"):
        command = SERVICES[name]["command"]
        assert command[command.index("--loglevel") + 1] == "${LOG_LEVEL:-INFO}", name


def test_images_are_pinned_to_full_versions():
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    images = [s["image"] for s in SERVICES.values() if "build" not in s]
    for image in bases + images:
        assert re.search(r":\d+\.\d+(\.\d+)?-", image), image


def test_the_dependency_layer_comes_before_the_code_and_the_context_is_small():
    assert DOCKERFILE.index("constraints.txt") < DOCKERFILE.index("COPY orchestrator")
    assert DOCKERFILE.index("pip install -c constraints.txt") < DOCKERFILE.index("COPY orchestrator")
    ignore = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "**"                                        # everything is out but what is listed
    copied = {p.rstrip("/") for line in re.findall(r"^COPY (.+) \S+$", DOCKERFILE, re.M) for p in line.split()}
    assert copied <= {p.lstrip("!").rstrip("/") for p in ignore if p.startswith("!")}


def docker_unavailable() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    for probe in (["docker", "info"], ["docker", "compose", "version"]):
        done = subprocess.run(probe, capture_output=True, text=True)
        if done.returncode != 0:
            return f"`{' '.join(probe)}` failed: {(done.stderr or done.stdout).strip().splitlines()[-1]}"
    return None


@pytest.mark.integration
def test_the_compose_stack_runs_a_workflow_end_to_end(tmp_path):
    reason = docker_unavailable()
    if reason:
        pytest.skip(f"needs a Docker engine with compose: {reason}")
    port, key = free_port(), "ork_" + generate_key().rstrip("=")
    env_file = tmp_path / ".env"
    env_file.write_text(f"POSTGRES_PASSWORD={generate_key().rstrip('=')}\nORCHESTRATOR_ENCRYPTION_KEYS={generate_key()}\n"
                        f"ORCHESTRATOR_BOOTSTRAP_API_KEY={key}\nFLOWER_BASIC_AUTH=ops:{generate_key()}\n"
                        f"API_PORT={port}\nFLOWER_PORT={free_port()}\n")
    compose = ["docker", "compose", "--project-directory", str(ROOT), "--env-file", str(env_file),
               "-p", f"orchestrator-test-{port}"]
    try:
        up = subprocess.run([*compose, "up", "-d", "--build", "--wait", "--scale", "worker=2"], capture_output=True,
                            text=True, timeout=900)
        offline = ("failed to resolve source metadata", "pull access denied", "dial tcp", "no such host")
        if up.returncode != 0 and any(sign in up.stderr for sign in offline):
            pytest.skip(f"the base images cannot be fetched here: {up.stderr.strip().splitlines()[-1]}")
        assert up.returncode == 0, up.stderr
        api, auth = f"http://127.0.0.1:{port}/api/v1", {"Authorization": f"Bearer {key}"}
        definition = {"name": "compose", "nodes": [{"id": "a", "type": "noop"}], "edges": []}
        workflow = requests.post(f"{api}/workflows", json={"definition": definition}, headers=auth, timeout=10).json()
        requests.post(f"{api}/workflows/{workflow['id']}/publish", headers=auth, timeout=10)
        execution = requests.post(f"{api}/workflows/{workflow['id']}/executions", json={"input": {}}, headers=auth,
                                  timeout=10).json()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = requests.get(f"{api}/executions/{execution['id']}", headers=auth, timeout=10).json()["status"]
            if status == "completed":
                break
            time.sleep(0.5)
        assert status == "completed"
    finally:
        subprocess.run([*compose, "down", "-v", "--remove-orphans"], capture_output=True, timeout=300)
