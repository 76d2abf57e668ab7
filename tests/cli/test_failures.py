"""Expected failures are one line `error: ...` with a hint and exit 2; Ctrl-C on `run` cancels."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from orchestrator.crypto import generate_key
from tests.support.api import BOOTSTRAP_KEY, WORKFLOWS
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def env_for(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORCHESTRATOR_", "DATABASE_URL", "BROKER_URL"))}
    return {**env, "PYTHONPATH": str(ROOT), "ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200", **extra}


def orchestrator(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], env=env_for(tmp_path, **env), cwd=ROOT,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_a_postgresql_database_that_does_not_exist(tmp_path, servers):
    url = servers.create_database().rsplit("/", 1)[0] + "/no_such_database_13"
    line = one_error_line(orchestrator(tmp_path, "db", "upgrade", DATABASE_URL=url,
                                       ORCHESTRATOR_ENCRYPTION_KEYS="ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZWtleTE="))
    assert 'database "no_such_database_13" does not exist' in line and "createdb" in line


def test_a_database_without_tables(tmp_path):
    line = one_error_line(orchestrator(tmp_path, "api-keys", "create", "--name", "first"))   # the local first key
    assert "no tables yet" in line and "orchestrator db upgrade" in line


def test_a_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_error_line(orchestrator(tmp_path, "standalone", "--port", str(port)))
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in line and "--port" in line


def test_a_server_that_does_not_answer(tmp_path):
    line = one_error_line(orchestrator(tmp_path, "executions", "list", "--url", f"http://127.0.0.1:{free_port()}",
                                       "--api-key", "ork_x"))
    assert "cannot reach the API" in line and "orchestrator standalone" in line


def test_a_bad_key(tmp_path, served):
    line = one_error_line(orchestrator(tmp_path, "workflows", "list", "--url", served.url, "--api-key", "ork_wrong"))
    assert "401" in line and "ORCHESTRATOR_API_KEY" in line


def test_no_key_for_a_named_server(tmp_path):
    line = one_error_line(orchestrator(tmp_path, "secrets", "list", "--url", f"http://127.0.0.1:{free_port()}"))
    assert "no API key" in line and "--api-key" in line


def test_no_server_for_a_database_that_is_not_the_embedded_one(tmp_path, servers):
    # Only the embedded default gets an API started for a command: a deployment's is started by its operator.
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8000)) == 0:
            pytest.skip("something listens on 127.0.0.1:8000, the default API address, on this machine")
    line = one_error_line(orchestrator(tmp_path, "workflows", "list", DATABASE_URL=servers.create_database(),
                                       ORCHESTRATOR_API_KEY="ork_x", ORCHESTRATOR_URL=""))
    assert "cannot reach the API at http://127.0.0.1:8000" in line and "orchestrator standalone" in line


def test_run_says_why_the_api_is_not_ready(tmp_path):
    line = one_error_line(orchestrator(tmp_path, "run", str(ROOT / "examples" / "approval.yaml"),
                                       BROKER_URL=f"redis://127.0.0.1:{free_port()}/0",
                                       ORCHESTRATOR_ENCRYPTION_KEYS=generate_key()))
    assert line.startswith("error: broker is down: ") and "Connection refused" in line and "BROKER_URL" in line


def test_version(tmp_path):
    result = orchestrator(tmp_path, "--version")
    assert result.returncode == 0 and re.fullmatch(r"orchestrator \d+\.\d+\.\d+\n", result.stdout)


@pytest.mark.parametrize("text, error", [
    ("name: x\nnodes: [\n", "is not a valid workflow: not valid JSON or YAML: expected the node content"),
    ("name: x\nnodes:\n  - {id: a, type: nope}\n", "is not a valid workflow: node 'a': unknown node type 'nope'"),
])
def test_validate_and_run_word_a_bad_file_alike_with_no_api(tmp_path, text, error):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    for command in ("run", "workflows validate"):
        line = one_error_line(orchestrator(tmp_path, *command.split(), str(path)))
        assert line.startswith(f"error: {path} {error}"), line
    assert not (tmp_path / "data" / "logs").exists()            # nothing was started
    line = one_error_line(orchestrator(tmp_path, "workflows", "validate", str(tmp_path / "nothing.yaml")))
    assert line == f"error: cannot read {tmp_path / 'nothing.yaml'}: No such file or directory"


def test_validate_without_an_api_says_what_it_did_not_check(tmp_path):
    result = orchestrator(tmp_path, "workflows", "validate", str(ROOT / "examples" / "topic_map.yaml"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("valid: topic-map, ") and "not checked: no API answers" in result.stdout


def test_ctrl_c_on_run_cancels_the_execution(tmp_path, served):
    # The inline engine runs nothing unless told: the execution stays running until cancelled.
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator.cli", "run", str(WORKFLOWS / "approval.yaml"),
                             "--url", served.url, "--api-key", BOOTSTRAP_KEY], env=env_for(tmp_path), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    line = proc.stdout.readline()
    assert "execution" in line, line + proc.stderr.read()
    execution_id = line.split()[-1]
    time.sleep(0.3)                                       # into the event stream
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    assert f"cancelling execution {execution_id}" in out and f"execution {execution_id}: cancelled" in out
    answer = requests.get(f"{served.url}/api/v1/executions/{execution_id}",
                          headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"}, timeout=5).json()
    assert answer["status"] == "cancelled"


@pytest.mark.parametrize("decision, shown", [("approve", "approved review"), ("reject", "rejected review")])
def test_run_says_what_it_decided(tmp_path, decision, shown):
    result = orchestrator(tmp_path, "run", str(ROOT / "examples" / "approval.yaml"), "--approve", decision)
    assert result.returncode == 0, result.stdout + result.stderr
    assert shown in result.stdout
