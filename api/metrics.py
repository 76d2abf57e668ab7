"""GET /metrics: the figures counted as things happen (``orchestrator.metrics``, summed over
the gunicorn workers through PROMETHEUS_MULTIPROC_DIR), what the database and the broker hold
now (bounded queries), and API latency measured here."""
from __future__ import annotations

import logging
import time

from celery import Celery
from flask import Flask, Response, g, request
from kombu.exceptions import ChannelError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from orchestrator import metrics
from orchestrator.db.types import utcnow
from orchestrator.engine import Engine
from orchestrator.services import stats

log = logging.getLogger(__name__)
BROKER_TIMEOUT_SECONDS = 3


class DatabaseCollector(Collector):
    """Active executions, queued steps, pending approvals and schedule lag, read when scraped."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self):
        try:
            with self.engine.sessions() as session:
                active = stats.active_executions(session)
                queued = stats.steps_queued(session)
                approvals = stats.approvals_pending(session)
                lag = stats.schedule_lag_seconds(session, utcnow())
        except SQLAlchemyError:
            log.warning("metrics: the database is unavailable; its figures are left out", exc_info=True)
            return
        executions = GaugeMetricFamily("orchestrator_executions_active", "Executions not yet ended, by status",
                                       labels=["status"])
        for status, count in active.items():
            executions.add_metric([status], count)
        yield executions
        yield GaugeMetricFamily("orchestrator_steps_queued", "Steps queued and not yet started", value=queued)
        yield GaugeMetricFamily("orchestrator_approvals_pending", "Human approvals awaiting a decision",
                                value=approvals)
        yield GaugeMetricFamily("orchestrator_schedule_lag_seconds",
                                "How long the most overdue active schedule has been due (0: beat is on time)",
                                value=lag)


class BrokerCollector(Collector):
    """Messages waiting in the node queue: work the workers have not taken yet."""

    def __init__(self, celery: Celery):
        self.celery = celery

    def collect(self):
        queue = self.celery.conf.task_default_queue
        try:
            with self.celery.connection_for_read() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
                try:
                    depth = connection.default_channel.queue_declare(queue=queue, passive=True).message_count
                except ChannelError:          # no message was ever queued: the queue does not exist yet
                    depth = 0
        except Exception:  # noqa: BLE001 - the broker is away: leave its figure out
            log.warning("metrics: the broker is unavailable; its figures are left out", exc_info=True)
            return
        depth_family = GaugeMetricFamily("orchestrator_broker_queue_depth", "Messages waiting in the broker queue",
                                         labels=["queue"])
        depth_family.add_metric([queue], depth)
        yield depth_family


class Metrics:
    def __init__(self, engine: Engine, celery: Celery):
        self.registry = metrics.scrape_registry("api", DatabaseCollector(engine), BrokerCollector(celery))

    def init_app(self, app: Flask) -> None:
        app.before_request(self._start)
        app.after_request(self._observe)

    @staticmethod
    def _start() -> None:
        g.request_started = time.perf_counter()

    @staticmethod
    def _observe(response: Response) -> Response:
        started = g.pop("request_started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule else "unmatched"
            metrics.API_LATENCY.labels(request.method, route, str(response.status_code)) \
                .observe(time.perf_counter() - started)
        return response

    def render(self) -> Response:
        return Response(generate_latest(self.registry), content_type=CONTENT_TYPE_LATEST)
