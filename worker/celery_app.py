"""The Celery app: the ``-A`` target. It lists its task modules and connects nothing at import."""
from __future__ import annotations

from celery import Celery

from orchestrator.config import Settings, get_settings
from worker import embedded


def _transport_options(settings: Settings) -> dict:
    if settings.broker_url.startswith(("sqla+", f"{embedded.ALIAS}+")):
        return {}  # the SQLAlchemy transport passes its options to create_engine
    return {"visibility_timeout": settings.visibility_timeout_seconds}


def create_celery(settings: Settings) -> Celery:
    embedded.register()
    app = Celery("orchestrator", broker=settings.broker_url, include=["worker.tasks", "worker.metrics"])
    app.conf.update(
        # The database is the truth; the queue is only a doorbell (DESIGN section 4).
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
    return app


celery_app = create_celery(get_settings())
