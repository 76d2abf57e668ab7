"""`make example-agent` and `make example-team` as people run them: offline, on a fresh
embedded database, each printing the workflow's output."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_run_anywhere import ROOT, clean_env
from tests.support.servers import free_port

pytestmark = pytest.mark.integration


def make(target: str) -> dict:
    """``make target`` with the virtual environment running these tests, never reinstalled here.
    Its three configuration commands each start the data directory's API (3-5 s each on an idle
    machine, 15-20 s on a loaded one), hence the long timeout."""
    venv = Path(sys.executable).parent.parent
    result = subprocess.run(["make", "-s", "-o", f"{venv}/bin/orchestrator", target, f"VENV={venv}",
                             f"EXAMPLE_PORT={free_port()}", f"LLM_PORT={free_port()}"],
                            cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout[result.stdout.index("\n{") + 1:])


def test_make_example_agent():
    output = make("example-agent")
    assert [(c["name"], c["status"]) for c in output["tool_calls"]] == [("service_status", "ok"), ("articles", "ok")]
    assert output["iterations"] == 3 and output["tokens"] > 0
    assert output["answer"].startswith("Two agent articles")


def test_make_example_team():
    output = make("example-team")
    assert (output["stop_reason"], output["member_turns"]) == ("final", 2)
    assert output["brief"].startswith("Agents: plan first")
