"""Standalone mode: the API, a worker and beat as child processes on one machine.

With nothing configured it runs on the embedded default (SQLite and the SQLite-backed
broker in the data directory): nothing to install. The processes are the same ones a
production deployment runs (see Procfile); this module only starts, watches and stops them.
"""
from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from orchestrator.config import Settings, secret_file
from orchestrator.crypto import load_keyring
from orchestrator.db.migrate import upgrade_database
from orchestrator.db.session import transaction
from orchestrator.services.api_keys import KEY_PREFIX, ensure_api_key
from orchestrator.services.templates import install_builtin

API_KEY_FILE = "standalone-api-key"
URL_FILE = "standalone-url"          # where `orchestrator standalone` answers while it runs
DEFAULT_PORT = 8000
ROLES = ("api", "worker", "beat")
NOT_READY_GRACE = 1.0       # seconds an API that answers "not ready" gets before its cause is reported
ABANDON_SECONDS = 2.0       # how long processes that never became ready get to stop before they are killed
READINESS_LOG = "readiness: "   # how the API logs what is down (api/operations.py)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: on Linux, get SIGTERM when the supervising process dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readiness(url: str, timeout: float = 5.0) -> tuple[bool, str | None]:
    """(True, None) when the API at ``url`` answers /readyz (its database and broker are up);
    (False, what it says is down) when it answers that it is not ready; (False, None) when
    nothing answers."""
    try:
        response = requests.get(f"{url}/readyz", timeout=timeout)
    except requests.RequestException:
        return False, None
    if response.status_code == 200:
        return True, None
    try:
        return False, response.json()["message"]
    except (ValueError, KeyError, TypeError):
        return False, f"/readyz answered {response.status_code}"


def api_ready(url: str, timeout: float = 5.0) -> bool:
    """Whether the API at ``url`` answers /readyz (its database and broker are up)."""
    return readiness(url, timeout)[0]


@dataclass(frozen=True)
class _Log:
    """A process's log file, and where this run of it starts (the file grows across runs)."""

    path: Path
    start: int

    def lines(self) -> list[str]:
        with open(self.path, "rb") as log:
            log.seek(self.start)
            return log.read().decode(errors="replace").splitlines()


def _cause(log: _Log) -> str | None:
    """What the API logged last about its readiness ("broker is down: ..."), with what to check."""
    said = next((line.split(READINESS_LOG, 1)[1].strip() for line in reversed(log.lines()) if READINESS_LOG in line),
                None)
    if said is None:
        return None
    setting = "BROKER_URL" if said.startswith("broker") else "DATABASE_URL"
    return f"{said}; check {setting} and that the server it names is running"


def standalone_api_key(settings: Settings) -> str:
    """The bootstrap key if one is set, else one kept (0600) in the data directory."""
    if settings.bootstrap_api_key:
        return settings.bootstrap_api_key
    return secret_file(Path(settings.data_dir) / API_KEY_FILE, lambda: KEY_PREFIX + secrets.token_urlsafe(32))[0]


def saved_api_key(settings: Settings) -> str | None:
    """The key a standalone install answers to, if it has one yet (nothing is created)."""
    if settings.bootstrap_api_key:
        return settings.bootstrap_api_key
    path = Path(settings.data_dir) / API_KEY_FILE
    return path.read_text().strip() if path.exists() else None


def announce(settings: Settings, url: str | None) -> None:
    """Say in the data directory where this data directory's standalone answers (None: it stopped)."""
    path = Path(settings.data_dir) / URL_FILE
    if url is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(url + "\n")


def running_standalone(settings: Settings) -> str | None:
    """The URL of the standalone of this data directory if it runs and is ready."""
    path = Path(settings.data_dir) / URL_FILE
    url = path.read_text().strip() if path.exists() else None
    return url if url and api_ready(url, timeout=2) else None


class StartError(RuntimeError):
    """A process of the stack did not start; the message says which, why, and where its log is."""


def check_port_free(host: str, port: int) -> None:
    """StartError if something listens on ``host:port`` already."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)    # as the API server binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StartError(f"cannot listen on {host}:{port}: {exc.strerror}; "
                             "pass another --port or stop what uses it") from None


@dataclass
class Stack:
    """API + worker + beat (or the ``roles`` asked for); ``start()`` returns once the API
    answers /readyz."""

    settings: Settings
    host: str = "127.0.0.1"
    port: int = 0
    worker_concurrency: int = 2
    roles: tuple[str, ...] = ROLES
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, "_Log"] = field(default_factory=dict)
    api_key: str = ""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _env(self) -> dict[str, str]:
        s = self.settings
        # Local model servers are common on a laptop: endpoints may be private unless told otherwise.
        env = {"ORCHESTRATOR_LLM_ALLOW_PRIVATE": "1", **os.environ, "ORCHESTRATOR_DATA_DIR": str(s.data_dir),
               "DATABASE_URL": s.database_url, "BROKER_URL": s.broker_url,
               "ORCHESTRATOR_BOOTSTRAP_API_KEY": self.api_key}
        if s.encryption_keys:
            env["ORCHESTRATOR_ENCRYPTION_KEYS"] = ",".join(s.encryption_keys)
        return env

    def commands(self) -> dict[str, list[str]]:
        python = sys.executable
        commands = {
            "api": [python, "-m", "gunicorn", "-b", f"{self.host}:{self.port}", "-w", "1", "--threads", "8",
                    "--graceful-timeout", "5", "--log-level", "warning", "api.wsgi:app"],
            "worker": [python, "-m", "celery", "-A", "worker.celery_app", "worker", "-n", "standalone@%h",
                       "-c", str(self.worker_concurrency), "--without-gossip", "--without-mingle", "-l", "WARNING"],
            "beat": [python, "-m", "celery", "-A", "worker.celery_app", "beat", "-S",
                     "worker.beat:DatabaseScheduler", "-l", "WARNING"],
        }
        return {role: commands[role] for role in self.roles}

    def start(self, timeout: float = 60.0) -> "Stack":
        if self.port:
            check_port_free(self.host, self.port)
        upgrade_database()
        with transaction(self.settings) as session:
            install_builtin(session)
        load_keyring(self.settings)     # make the embedded key here, before the children need it
        self.api_key = standalone_api_key(self.settings)
        with transaction(self.settings) as session:
            ensure_api_key(session, self.api_key, name="standalone")
        self.port = self.port or free_port()
        log_dir = self.log_dir or Path(self.settings.data_dir) / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        for name, command in self.commands().items():
            with open(log_dir / f"{name}.log", "ab") as log:
                self.logs[name] = _Log(log_dir / f"{name}.log", log.tell())
                self.processes[name] = subprocess.Popen(
                    command, env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                    cwd=Path(__file__).resolve().parents[2], start_new_session=True, preexec_fn=_die_with_parent)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """Until the API is ready; a process that exits, or an API that keeps answering that its
        database or broker is down, ends the wait at once with the cause."""
        deadline, not_ready_since = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            self._check_running()
            ready, down = readiness(self.url)
            if ready:
                return
            if down is not None:
                not_ready_since = not_ready_since or time.monotonic()
                if time.monotonic() - not_ready_since > NOT_READY_GRACE:
                    self.stop(ABANDON_SECONDS)
                    raise StartError(f"{_cause(self.logs['api']) or down}; see {self.logs['api'].path}")
            time.sleep(0.2)
        self.stop(ABANDON_SECONDS)
        raise StartError(f"the API did not become ready in {timeout:g}s; see {self.logs['api'].path.parent}")

    def _check_running(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                self.stop(ABANDON_SECONDS)
                log = self.logs[name]
                last = next((line for line in reversed(log.lines()) if line.strip()), "no output")
                raise StartError(f"{name} exited with {proc.returncode}: {last.strip()}; see {log.path}")

    def stop(self, timeout: float = 15.0) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.terminate()            # each process shuts its own children down
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
