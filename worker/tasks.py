"""Celery tasks: thin wrappers over orchestrator.engine; they take ids only.

``register(app, settings)`` adds the task and the worker's signal handlers to an app; the
engine of a worker process is built on first use (after the fork), with the standard hooks.
A worker's main process also runs the sweeper and the notifier (outbound notifications),
each on a thread of its own.
"""
from __future__ import annotations

import logging
import threading
import uuid

from celery import Celery, signals
from sqlalchemy.exc import OperationalError

from orchestrator.composition import build_engine
from orchestrator.config import Settings
from orchestrator.db.session import get_engine
from orchestrator.db.types import utcnow
from orchestrator.engine import Engine, next_due, run_step, sweep
from orchestrator.nodes.registry import node_types
from orchestrator.services.deliveries import BATCH as DELIVERY_BATCH, deliver_due
from worker import metrics as worker_metrics
from worker.dispatch import RUN_STEP, CeleryDispatcher

log = logging.getLogger(__name__)


_building = threading.Lock()


def engine_of(app: Celery) -> Engine:
    """The engine of this process for ``app`` (one per app, built on first use, by one thread:
    the sweeper and the notifier start together)."""
    engine = getattr(app, "orchestrator_engine", None)
    if engine is None:
        with _building:
            engine = getattr(app, "orchestrator_engine", None)
            if engine is None:
                engine = app.orchestrator_engine = build_engine(app.orchestrator_settings, CeleryDispatcher(app))
    return engine


class AttemptFailed(Exception):
    """The node's attempt failed and the engine has recorded it (and owns any retry): raised so
    that Celery, and Flower, show the task as FAILURE."""


def register(app: Celery, settings: Settings) -> None:
    app.orchestrator_settings = settings

    @app.task(name=RUN_STEP, bind=True, autoretry_for=(OperationalError,), retry_backoff=True,
              retry_backoff_max=30, max_retries=None, throws=(AttemptFailed,))
    def run_step_task(self, step_id: str, execution_id: str, node_id: str | None = None,
                      attempt: int | None = None, wake: bool = False, version_id: str | None = None) -> None:
        """Run one node (or, ``wake``, end its short delay). attempt is there for operators
        (Flower); node_id and version_id let a pure node run in one transaction."""
        if wake:
            engine_of(self.app).wake(uuid.UUID(step_id), uuid.UUID(execution_id))
            return
        error = run_step(engine_of(self.app), uuid.UUID(step_id), uuid.UUID(execution_id),
                         worker=self.request.hostname or "worker", task_id=self.request.id, node_id=node_id,
                         version_id=uuid.UUID(version_id) if version_id else None)
        if error is not None:
            raise AttemptFailed(error)

    stop = threading.Event()

    def sweep_forever() -> None:
        """Sweep every interval, or sooner when a parked step (a short delay) falls due."""
        interval, pause = settings.sweep_interval_seconds, settings.sweep_interval_seconds
        while not stop.wait(pause):
            pause = interval
            try:
                sweep(engine_of(app))
                due = next_due(engine_of(app))
                if due is not None:
                    pause = min(interval, max(0.02, (due - utcnow()).total_seconds()))
            except Exception:  # the database or broker is away: try again next round
                log.exception("maintenance sweep failed; retrying in %ss", interval)

    def notify_forever() -> None:
        """Send the notifications that are due, every sweep interval (at once while a batch
        comes back full)."""
        interval = settings.sweep_interval_seconds
        pause = interval
        while not stop.wait(pause):
            try:
                pause = 0 if deliver_due(engine_of(app)) == DELIVERY_BATCH else interval
            except Exception:  # the database is away: try again next round
                pause = interval
                log.exception("sending notifications failed; retrying in %ss", interval)

    def load_node_types(**_kwargs) -> None:
        node_types()        # before the pool forks: the model SDKs take seconds to import

    def fresh_connections_after_fork(**_kwargs) -> None:
        get_engine(settings).dispose(close=False)
        engine_of(app)      # ready before the first task, whose lease would pay for it

    def start_sweeper(sender=None, **_kwargs) -> None:
        if getattr(sender, "app", app) is app:
            threading.Thread(target=sweep_forever, name="sweeper", daemon=True).start()
            threading.Thread(target=notify_forever, name="notifier", daemon=True).start()

    worker_metrics.connect(app, settings)
    signals.worker_init.connect(load_node_types, weak=False)
    signals.worker_process_init.connect(fresh_connections_after_fork, weak=False)
    signals.worker_ready.connect(start_sweeper, weak=False)
    signals.worker_shutting_down.connect(lambda **_: stop.set(), weak=False)
