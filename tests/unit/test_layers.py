"""The layers contract (.importlinter, run by the test command) fails when a layer is broken."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(tree)})


@pytest.fixture
def tree(tmp_path):
    for package in ("orchestrator", "api", "worker"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path)
    return tmp_path


@pytest.mark.parametrize("module, line, broken", [
    ("orchestrator/engine/graph.py", "from orchestrator.services import executions", "orchestrator.engine is not allowed to import orchestrator.services"),
    ("orchestrator/engine/core.py", "import celery", "The core imports neither Flask nor Celery BROKEN"),
    ("orchestrator/db/base.py", "from orchestrator import engine", "orchestrator.db is not allowed to import orchestrator.engine"),
    ("orchestrator/cli/client.py", "from orchestrator.cli import remote", "orchestrator.cli.client is not allowed to import orchestrator.cli.remote"),
])
def test_a_broken_layer_fails_the_contract(tree, module, line, broken):
    assert _lint(tree).returncode == 0
    with open(tree / module, "a") as fh:
        fh.write(f"\n{line}  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0 and broken in result.stdout, result.stdout
