"""Celery tasks: thin wrappers over orchestrator.engine; they take ids only."""
from __future__ import annotations

import logging
import threading
import uuid
from functools import lru_cache

from celery import signals
from sqlalchemy.exc import OperationalError

from orchestrator.config import get_settings
from orchestrator.crypto import load_keyring
from orchestrator.db.session import get_engine
from orchestrator.engine import Engine, run_step, sweep
from worker.celery_app import celery_app
from worker.dispatch import RUN_STEP, CeleryDispatcher

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def engine() -> Engine:
    settings = get_settings()
    return Engine(settings, load_keyring(settings), CeleryDispatcher(celery_app))


class AttemptFailed(Exception):
    """The node's attempt failed and the engine has recorded it (and owns any retry): raised so
    that Celery, and Flower, show the task as FAILURE."""


@celery_app.task(name=RUN_STEP, bind=True, autoretry_for=(OperationalError,), retry_backoff=True,
                 retry_backoff_max=30, max_retries=None, throws=(AttemptFailed,))
def run_step_task(self, step_id: str, execution_id: str | None = None, node_id: str | None = None,
                  attempt: int | None = None) -> None:
    """Run one node. execution_id, node_id and attempt are there for operators (Flower)."""
    error = run_step(engine(), uuid.UUID(step_id), worker=self.request.hostname or "worker", task_id=self.request.id)
    if error is not None:
        raise AttemptFailed(error)


@signals.worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs) -> None:
    get_engine().dispose(close=False)


def _sweep_forever(stop: threading.Event) -> None:
    interval = get_settings().sweep_interval_seconds
    while not stop.wait(interval):
        try:
            sweep(engine())
        except Exception:  # the database or broker is away: try again next round
            log.exception("maintenance sweep failed; retrying in %ss", interval)


_stop_sweeper = threading.Event()


@signals.worker_ready.connect
def _start_sweeper(**_kwargs) -> None:
    threading.Thread(target=_sweep_forever, args=(_stop_sweeper,), name="sweeper", daemon=True).start()


@signals.worker_shutting_down.connect
def _stop(**_kwargs) -> None:
    _stop_sweeper.set()
