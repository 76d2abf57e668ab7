"""A backup taken while executions run on real workers, restored into a fresh database, resumes:
workers started on the restored database complete every execution that was in flight.
`orchestrator db restore` runs as a user runs it (the CLI, in a process of its own); the backup
is taken in this process by the function `db backup` runs, so that it lands while the first
steps run. SQLite through its online backup API while the workers write, PostgreSQL through
pg_dump and pg_restore.

20 to 35 s per database on a loaded machine: two stacks of worker processes start one after
the other, and the CLI starts once."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from orchestrator.db import Execution, ExecutionStep
from orchestrator.db.backup import backup as backup_of
from orchestrator.states import EXECUTION_TERMINAL, StepStatus
from tests.support.httpserver import LocalHTTPServer
from tests.support.stack import finished, running_stack, submit

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
RUNS = 4

WORKFLOW = {"name": "slow-fan", "nodes": [
    {"id": "fetch", "type": "http_request", "config": {"url": "{{ input.base }}/slow?s=1.5"}},
    {"id": "pause", "type": "delay", "config": {"seconds": 1}},
    *({"id": part, "type": "transform", "config": {"output": {"part": part, "n": "{{ input.n }}"}}}
      for part in ("a", "b", "c")),
    {"id": "join", "type": "transform", "config": {"output": {
        "slept": "{{ nodes.fetch.output.json.slept }}",
        "parts": "{{ [nodes.a.output.part, nodes.b.output.part, nodes.c.output.part] }}"}}},
], "edges": [{"source": "fetch", "target": "pause"},
             *({"source": "pause", "target": part} for part in ("a", "b", "c")),
             *({"source": part, "target": "join"} for part in ("a", "b", "c"))]}


def cli(tmp: Path, database_url: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORCHESTRATOR_", "DATABASE_URL", "BROKER_URL"))}
    done = subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**env, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url,
                                            "ORCHESTRATOR_DATA_DIR": str(tmp)})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def in_flight(database_url: str) -> tuple[int, dict[str, int]]:
    """Executions not ended, and their open steps by status, in a database."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        executions = conn.scalar(select(func.count()).select_from(Execution)
                                 .where(Execution.status.not_in([s.value for s in EXECUTION_TERMINAL])))
        steps = dict(conn.execute(select(ExecutionStep.status, func.count()).where(ExecutionStep.status.in_(
            [StepStatus.QUEUED.value, StepStatus.RUNNING.value, StepStatus.WAITING.value]))
            .group_by(ExecutionStep.status)).all())
    engine.dispose()
    return executions, steps


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_backup_taken_while_executions_run_resumes_after_a_restore(kind, servers, tmp_path):
    def database(name: str) -> str:
        return f"sqlite:///{tmp_path / name}.db" if kind == "sqlite" else servers.create_database()

    source, target, backup = database("source"), database("target"), tmp_path / "orchestrator.backup"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    service = LocalHTTPServer()
    try:
        with running_stack(tmp_path / "a", source, servers.claim_redis_db(), workers=1) as before:
            ids = [submit(before, WORKFLOW, {"base": service.url, "n": i}) for i in range(RUNS)]
            deadline = time.monotonic() + 20
            while sum(service.hits.values()) < 2 and time.monotonic() < deadline:   # fetches under way
                time.sleep(0.05)
            backup_of(before.engine.settings, backup)     # what `orchestrator db backup` runs, at once
            keys = ",".join(before.engine.settings.encryption_keys)
            before.workers.kill("w1")        # the deployment that took the backup is gone
        # a new one starts from the backup
        restored = cli(tmp_path, target, "db", "restore", str(backup))
        open_executions, open_steps = in_flight(target)
        assert open_executions == RUNS and open_steps.get("running", 0) >= 1, open_steps
        assert f"recovers {open_steps.get('running', 0)} running step(s)" in restored
        with running_stack(tmp_path / "b", target, servers.claim_redis_db(), workers=1, keys=keys) as after:
            for n, execution_id in enumerate(ids):
                execution, steps, _ = finished(after, execution_id, timeout=40)
                assert execution.status == "completed", (execution.error_message, after.workers.logs())
                assert execution.output == {"join": {"slept": 1.5, "parts": ["a", "b", "c"]}}
                assert {s.status for s in steps.values()} == {"completed"}
                assert steps["a"].output["n"] == n
    finally:
        service.close()
