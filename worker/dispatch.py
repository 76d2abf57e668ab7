"""The engine's dispatcher, implemented with Celery."""
from __future__ import annotations

import logging
import threading
from contextlib import nullcontext

from celery import Celery

from orchestrator.engine import StepMessage

log = logging.getLogger(__name__)
RUN_STEP = "orchestrator.run_step"
# Celery's hard limit is only a backstop: the runner times a node out itself.
HARD_LIMIT_GRACE_SECONDS = 60


class CeleryDispatcher:
    """Sends step messages on a connection of the calling thread's own.

    The API serves requests on threads, and kombu's SQLAlchemy transport (the embedded
    broker) does not survive channels shared between threads; one producer per thread is
    safe on every transport and saves the pool round trip on Redis.
    """

    def __init__(self, app: Celery):
        self.app = app
        self._local = threading.local()

    def _producer(self):
        producer = getattr(self._local, "producer", None)
        if producer is None:
            producer = self._local.producer = self.app.amqp.Producer(self.app.connection_for_write())
        return producer

    def _reset(self) -> None:
        producer = getattr(self._local, "producer", None)
        self._local.producer = None
        if producer is not None:
            producer.connection.release()

    def send(self, messages: list[StepMessage]) -> None:
        try:
            self._publish(messages)
        except Exception:  # a broken connection: one more try on a fresh one
            log.warning("sending %d step message(s) failed; retrying on a new connection", len(messages),
                        exc_info=True)
            self._reset()
            self._publish(messages)

    def _publish(self, messages: list[StepMessage]) -> None:
        """Several messages (a fan-out's successors) go out in one broker round trip where the
        transport can batch (Redis: one pipeline); elsewhere kombu sends them one by one."""
        producer = self._producer()
        with producer.batch() if len(messages) > 1 else nullcontext():
            for m in messages:
                self._send(producer, m)

    def _send(self, producer, m: StepMessage) -> None:
        self.app.send_task(
            RUN_STEP,
            args=[str(m.step_id)],
            kwargs={"execution_id": str(m.execution_id), "node_id": m.node_id, "attempt": m.attempt,
                    **({"wake": True} if m.wake else {}),
                    **({"version_id": str(m.version_id)} if m.version_id else {})},
            shadow=f"{m.node_type}:{m.node_id}",      # bounded: the execution id is in kwargs
            time_limit=m.timeout_seconds + HARD_LIMIT_GRACE_SECONDS,
            countdown=m.countdown or None,
            producer=producer,
        )

    def revoke(self, task_ids: list[str]) -> None:
        self.app.control.revoke(task_ids, terminate=True)
