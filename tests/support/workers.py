"""Real ``celery worker``, ``celery beat`` and API (gunicorn) processes for integration tests."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def procfile(process: str) -> str:
    """The command of ``process`` in the Procfile."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise LookupError(process)


class Workers:
    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, concurrency: int = 2, pool: str = "prefork", app: str = "worker.celery_app",
              options: tuple[str, ...] = ()) -> None:
        log = open(self.log_dir / f"worker-{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, "worker", "-n", f"{name}@%h",
             "-P", pool, "-c", str(concurrency), "--without-gossip", "--without-mingle", "-l", "INFO", *options],
            env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(name, f"worker-{name}.log", b" ready.")

    def start_beat(self, name: str) -> None:
        """A ``celery beat`` process with the database scheduler; stopped and killed like a worker."""
        log = open(self.log_dir / f"beat-{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker.celery_app", "beat", "-S", "worker.beat:DatabaseScheduler",
             "-l", "INFO"],
            env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(name, f"beat-{name}.log", b"beat: Starting...")

    def start_api(self, name: str, port: int, env: dict[str, str] | None = None) -> str:
        """``gunicorn api.wsgi:app`` (the Procfile's web) on 127.0.0.1:``port``; returns its base URL."""
        log = open(self.log_dir / f"api-{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--threads", "4", "api.wsgi:app"],
            env={**self.env, **(env or {})}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(name, f"api-{name}.log", b"Booting worker")
        return f"http://127.0.0.1:{port}"

    def start_procfile(self, name: str, process: str, marker: bytes, env: dict[str, str] | None = None) -> None:
        """The Procfile's ``process`` as a process manager runs it (``sh -c``), this venv first on PATH."""
        log = open(self.log_dir / f"{process}-{name}.log", "ab")
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        self.procs[name] = subprocess.Popen(
            ["sh", "-c", procfile(process)], env={**self.env, "PATH": path, **(env or {})}, cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(name, f"{process}-{name}.log", marker)

    def _wait_ready(self, name: str, log: str, marker: bytes, seconds: float = 30) -> None:
        path = self.log_dir / log
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if marker in path.read_bytes():
                return
            if self.procs[name].poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not start:\n{path.read_text()[-3000:]}")

    def kill(self, name: str) -> None:
        """SIGKILL the worker and its pool processes, as a machine that vanishes."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in list(self.procs.values()):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()

    def logs(self) -> str:
        return "\n".join(p.read_text()[-4000:] for p in sorted(self.log_dir.glob("*-*.log")))
