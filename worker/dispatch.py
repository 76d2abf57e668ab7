"""The engine's dispatcher, implemented with Celery."""
from __future__ import annotations

import logging
import threading
import time
from contextlib import nullcontext
from functools import cached_property

from celery import Celery
from kombu.exceptions import BatchPublishError, OperationalError

from orchestrator.engine import StepMessage

log = logging.getLogger(__name__)
RUN_STEP = "orchestrator.run_step"
# Celery's hard limit is only a backstop: the runner times a node out itself.
HARD_LIMIT_GRACE_SECONDS = 60


class BrokerOutage:
    """While the broker is away, one warning line when it goes, one a minute while it stays
    away, and one when it is back, instead of a traceback per message sent."""

    REMIND_SECONDS = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None
        self._warned = 0.0
        self._unsent = 0

    def failed(self, count: int, exc: BaseException) -> None:
        with self._lock:
            now, self._unsent = time.monotonic(), self._unsent + count
            if self.since is None:
                self.since = self._warned = now
                log.warning("broker unavailable (%s): step messages are left to the sweeper, which sends them "
                            "once the broker is back", _one_line(exc))
            elif now - self._warned >= self.REMIND_SECONDS:
                self._warned = now
                log.warning("broker still unavailable after %.0f s; %d step message(s) left to the sweeper so far",
                            now - self.since, self._unsent)

    def sent(self) -> None:
        if self.since is None:
            return
        with self._lock:
            if self.since is not None:
                log.warning("broker reachable again after %.0f s; the sweeper sends the %d step message(s) "
                            "left to it", time.monotonic() - self.since, self._unsent)
                self.since, self._unsent = None, 0


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}"


class CeleryDispatcher:
    """Sends step messages on a connection of the calling thread's own.

    The API serves requests on threads, and kombu's SQLAlchemy transport (the embedded
    broker) does not survive channels shared between threads; one producer per thread is
    safe on every transport and saves the pool round trip on Redis.
    """

    def __init__(self, app: Celery):
        self.app = app
        self._local = threading.local()
        self.outage = BrokerOutage()

    @cached_property
    def _broker_errors(self) -> tuple[type[BaseException], ...]:
        """What a publish raises when the broker cannot be reached."""
        connection = self.app.connection_for_write()
        try:
            return (OperationalError, BatchPublishError, *connection.connection_errors)
        finally:
            connection.release()

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
        """Publish, or (the broker away) leave the messages to the sweeper, saying so in one line
        (``BrokerOutage``); any other failure raises."""
        try:
            self._publish(messages)
        except Exception as exc:  # a connection broken since its last use: one more try on a fresh one
            self._reset()
            if self.outage.since is not None and isinstance(exc, self._broker_errors):
                self.outage.failed(len(messages), exc)      # known to be away: no second wait
                return
            log.debug("sending %d step message(s) failed; retrying on a new connection", len(messages),
                      exc_info=True)
            try:
                self._publish(messages)
            except self._broker_errors as again:
                self._reset()
                self.outage.failed(len(messages), again)
                return
        self.outage.sent()

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
