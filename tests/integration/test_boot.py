"""Start-up is race-free: the Procfile's ``web`` with 4 gunicorn workers, each ensuring
ORCHESTRATOR_BOOTSTRAP_API_KEY, boots on a fresh database every time."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from orchestrator.crypto import generate_key
from orchestrator.db import ApiKey, User
from orchestrator.db.migrate import upgrade_database
from orchestrator.db.session import session_factory
from orchestrator.services import api_keys
from tests.conftest import make_settings, use_settings
from tests.support.api import BOOTSTRAP_KEY
from tests.support.servers import free_port
from tests.support.waiting import activity, until, waiting_for_a_lock
from tests.support.workers import ROOT, procfile

pytestmark = pytest.mark.integration
WORKERS = 4
TRIALS = 5


def boot(url: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "WEB_CONCURRENCY": str(WORKERS), "DATABASE_URL": url,
           "ORCHESTRATOR_ENCRYPTION_KEYS": generate_key(), "ORCHESTRATOR_BOOTSTRAP_API_KEY": BOOTSTRAP_KEY,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(["sh", "-c", procfile("web")], env=env, cwd=ROOT, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("trial", range(TRIALS))
def test_the_web_process_boots_its_workers_on_a_fresh_database(servers, tmp_path, monkeypatch, trial):
    url = servers.create_database()
    use_settings(monkeypatch, make_settings(tmp_path, url))
    upgrade_database()
    log = tmp_path / "web.log"
    proc, base = boot(url, log)
    try:
        deadline = time.monotonic() + 60
        while activity(url) < WORKERS and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None, f"the web process exited:\n{log.read_text()[-3000:]}"
        assert activity(url) >= WORKERS, log.read_text()[-3000:]
        for _ in range(2 * WORKERS):
            answer = requests.get(f"{base}/api/v1/workflows", headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"},
                                  timeout=10)
            assert answer.status_code == 200
        assert proc.poll() is None and "failed to boot" not in log.read_text() and "Traceback" not in log.read_text()
        with create_engine(url).connect() as db:
            assert db.execute(text("SELECT count(*) FROM users")).scalar() == 1
            assert db.execute(text("SELECT count(*) FROM api_keys")).scalar() == 1
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_ensuring_the_bootstrap_key_waits_for_a_concurrent_start_and_uses_its_rows(servers, tmp_path, monkeypatch):
    """Deterministic version of the race: process B inserts the admin while A's uncommitted insert
    holds the unique index; when A commits, B reads A's rows instead of failing to boot."""
    url = servers.create_database()
    settings = use_settings(monkeypatch, make_settings(tmp_path, url))
    upgrade_database()
    sessions = session_factory(settings)
    errors: list[BaseException] = []

    def process_b() -> None:
        try:
            with sessions() as b, b.begin():
                api_keys.ensure_api_key(b, BOOTSTRAP_KEY)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    with sessions() as a, a.begin():
        api_keys.ensure_api_key(a, BOOTSTRAP_KEY)
        b = threading.Thread(target=process_b)
        b.start()
        until("B waits for A's insert", lambda: waiting_for_a_lock(url), timeout=10)
    b.join(10)
    assert errors == []
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1
        assert s.scalar(select(func.count()).select_from(ApiKey)) == 1
        assert api_keys.authenticate(s, BOOTSTRAP_KEY).is_admin
