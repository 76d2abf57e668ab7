"""A running stack for integration tests: migrated database, local HTTP server, `celery worker`
processes and an in-test Engine that sends through Celery; plus helpers to run workflows on it."""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from orchestrator.config import get_settings
from orchestrator.db import Execution, ExecutionEvent, ExecutionStep, User
from orchestrator.db.migrate import upgrade_database
from orchestrator.db.session import get_engine
from orchestrator.composition import build_engine
from orchestrator.engine import Engine
from orchestrator.services import api_keys, executions, workflows
from orchestrator.states import EXECUTION_TERMINAL
from tests.conftest import make_settings, use_settings
from tests.support.httpserver import LocalHTTPServer
from tests.support.servers import release_redis_db
from tests.support.workers import Workers
from worker.celery_app import create_celery
from worker.dispatch import CeleryDispatcher

WORKER_ENV = {
    "ORCHESTRATOR_HTTP_ALLOW_PRIVATE": "1",      # the test HTTP server is on loopback
    "ORCHESTRATOR_LEASE_SECONDS": "2",
    "ORCHESTRATOR_SWEEP_INTERVAL_SECONDS": "0.3",
    "ORCHESTRATOR_REQUEUE_AFTER_SECONDS": "5",
}


class Stack(NamedTuple):
    engine: Engine
    owner: User
    http: LocalHTTPServer
    workers: Workers


@contextmanager
def running_stack(tmp: Path, database_url: str, broker_url: str, workers: int = 2,
                  app: str = "worker.celery_app", **env: str) -> Iterator[Stack]:
    env = {**WORKER_ENV, **env}
    mp = pytest.MonkeyPatch()
    for name, value in env.items():
        mp.setenv(name, value)
    settings = use_settings(mp, make_settings(tmp, database_url, BROKER_URL=broker_url, **env))
    upgrade_database()
    http = LocalHTTPServer()
    pool = Workers({"DATABASE_URL": settings.database_url, "BROKER_URL": settings.broker_url,
                    "ORCHESTRATOR_ENCRYPTION_KEYS": ",".join(settings.encryption_keys),
                    "ORCHESTRATOR_DATA_DIR": str(tmp), **env}, tmp)
    try:
        for i in range(workers):
            pool.start(f"w{i + 1}", app=app)
        engine = build_engine(settings, CeleryDispatcher(create_celery(settings)))
        with engine.sessions() as s, s.begin():
            owner = api_keys.get_or_create_user(s, "it@example.com")
        yield Stack(engine, owner, http, pool)
    finally:
        pool.stop_all()
        release_redis_db(broker_url)
        http.close()
        get_engine(settings).dispose()
        mp.undo()
        get_settings.cache_clear()


def submit(stack: Stack, definition, input=None):
    with stack.engine.sessions() as s, s.begin():
        workflow = workflows.create_workflow(s, stack.engine.keyring, stack.owner, definition)
    return executions.submit(stack.engine, stack.owner, workflow.id, input or {})[0].id


def state(stack: Stack, execution_id):
    with stack.engine.sessions() as s:
        execution = s.get(Execution, execution_id)
        steps = {st.node_id: st for st in s.scalars(select(ExecutionStep).where(ExecutionStep.execution_id == execution_id))}
        events = s.scalars(select(ExecutionEvent).where(ExecutionEvent.execution_id == execution_id)
                           .order_by(ExecutionEvent.seq)).all()
    return execution, steps, events


def wait_until(stack: Stack, execution_id, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            current = state(stack, execution_id)
        except OperationalError:    # the database restarted under a pooled connection: poll again
            time.sleep(0.05)
            continue
        if predicate(*current):
            return current
        time.sleep(0.05)
    execution, steps, _ = state(stack, execution_id)
    raise AssertionError(f"timed out: execution {execution.status}, steps "
                         f"{ {n: (s.status, s.attempt, s.error_message) for n, s in steps.items()} }\n"
                         f"{stack.workers.logs()}")


def finished(stack: Stack, execution_id, timeout=20.0):
    return wait_until(stack, execution_id, lambda e, *_: e.status in EXECUTION_TERMINAL, timeout)


def http_node(id_, url, **extra):
    return {"id": id_, "type": "http_request", "config": {"url": url, **extra.pop("config", {})}, **extra}
