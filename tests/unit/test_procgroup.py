"""``python -m orchestrator.procgroup``: a fresh metrics directory per process group, emptied
before a restart and removed at exit; a command that fails is started again, one that is
stopped is not. Real processes, no servers."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.workers import ROOT

# Records what it saw (its metrics directory and what was in it), leaves a file there, then
# exits with the next status in STATUSES (0 when they run out), or waits for SIGTERM.
COMMAND = """
import json, os, signal, sys, time
from pathlib import Path
signal.signal(signal.SIGTERM, lambda *_: (Path(sys.argv[1] + ".term").write_text("term"), sys.exit(0)))
seen = Path(sys.argv[1])
runs = json.loads(seen.read_text()) if seen.exists() else []
directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
runs.append({"dir": directory, "files": sorted(os.listdir(directory))})
seen.write_text(json.dumps(runs))
Path(directory, f"counter_{os.getpid()}.db").write_text("x")
statuses = json.loads(sys.argv[2])
if len(runs) <= len(statuses):
    sys.exit(statuses[len(runs) - 1])
time.sleep(60)
"""


def group(tmp_path: Path, statuses: list[int]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "inherited")}
    return subprocess.Popen([sys.executable, "-m", "orchestrator.procgroup", sys.executable, "-c", COMMAND,
                             str(tmp_path / "seen.json"), json.dumps(statuses)], env=env, stderr=subprocess.PIPE,
                            text=True)


def runs(tmp_path: Path) -> list[dict]:
    seen = tmp_path / "seen.json"
    return json.loads(seen.read_text()) if seen.exists() else []


def test_a_failing_command_restarts_in_an_emptied_directory_that_is_removed_at_exit(tmp_path):
    proc = group(tmp_path, [3, 0])
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    first, second = runs(tmp_path)
    assert first["dir"] == second["dir"] != str(tmp_path / "inherited")      # its own, for the whole group
    assert first["files"] == second["files"] == []                           # empty at each start
    assert not Path(first["dir"]).exists()                                   # removed at exit
    assert "exited with status 3; starting it again in 1 s" in stderr


def test_sigterm_stops_the_command_once_and_it_is_not_restarted(tmp_path):
    proc = group(tmp_path, [])
    deadline = time.monotonic() + 20
    while not runs(tmp_path):
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    [run] = runs(tmp_path)
    assert (tmp_path / "seen.json.term").read_text() == "term" and not Path(run["dir"]).exists()
