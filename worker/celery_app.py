"""The Celery app: ``create_celery(settings)``, and the ``-A`` target.

``celery -A worker.celery_app`` finds ``app`` here; it is built on first access (module
``__getattr__``), so importing this module reads no environment and connects nothing.
"""
from __future__ import annotations

from functools import lru_cache

from celery import Celery

from orchestrator.config import Settings
from worker import alive, embedded


def _transport_options(settings: Settings) -> dict:
    if settings.broker_url.startswith(("sqla+", f"{embedded.ALIAS}+")):
        return {}  # the SQLAlchemy transport passes its options to create_engine
    return {"visibility_timeout": settings.visibility_timeout_seconds}


def create_celery(settings: Settings) -> Celery:
    from worker import tasks

    embedded.register()
    app = Celery("orchestrator", broker=settings.broker_url)
    app.conf.update(
        # The database is the truth; the queue is only a doorbell.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_transport_options=_transport_options(settings),
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        task_default_queue="orchestrator",
        # Flower shows every node task as `node_type:node_id`, with its execution in the arguments.
        # No task-sent event: it carries the task's real name, and arriving after the worker's
        # task-received (a worker sends the next node's message) it would rename the task.
        worker_send_task_events=True,
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
        # `celery beat` fires the schedules kept in the database (worker/beat.py).
        beat_scheduler="worker.beat:DatabaseScheduler",
    )
    tasks.register(app, settings)
    app.steps["consumer"].add(alive.Consuming)
    return app


@lru_cache(maxsize=1)
def _app() -> Celery:
    return create_celery(Settings.from_env())


def __getattr__(name: str) -> Celery:
    if name in ("app", "celery_app"):
        return _app()
    raise AttributeError(name)
