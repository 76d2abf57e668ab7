"""Prometheus metrics: API latency measured here; the database's state computed at scrape time.

API latency is per process: run the API with threads (Procfile) or scrape each process.
"""
from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy.exc import SQLAlchemyError

from orchestrator.engine import Engine
from orchestrator.services import stats

log = logging.getLogger(__name__)


class DatabaseCollector:
    """Executions by status, queued steps and step durations by node type, read when scraped."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self):
        try:
            with self.engine.sessions() as session:
                by_status = stats.executions_by_status(session)
                queued = stats.steps_queued(session)
                durations = stats.step_durations(session)
        except SQLAlchemyError:
            log.warning("metrics: the database is unavailable; its figures are left out", exc_info=True)
            return
        executions = GaugeMetricFamily("orchestrator_executions", "Executions by status", labels=["status"])
        for status, count in by_status.items():
            executions.add_metric([status], count)
        yield executions
        yield GaugeMetricFamily("orchestrator_steps_queued", "Steps queued and not yet started", value=queued)
        histogram = HistogramMetricFamily("orchestrator_step_duration_seconds",
                                          "Duration of finished step attempts by node type", labels=["node_type"])
        for node_type, d in sorted(durations.items()):
            buckets = [(repr(bound), count) for bound, count in d.buckets] + [("+Inf", d.count)]
            histogram.add_metric([node_type], buckets, d.sum_seconds)
        yield histogram


class Metrics:
    def __init__(self, engine: Engine):
        self.registry = CollectorRegistry()
        self.registry.register(DatabaseCollector(engine))
        self.latency = Histogram("orchestrator_api_request_duration_seconds", "API latency until the response starts",
                                 ["method", "route", "status"], registry=self.registry)

    def init_app(self, app: Flask) -> None:
        app.before_request(self._start)
        app.after_request(self._observe)

    @staticmethod
    def _start() -> None:
        g.request_started = time.perf_counter()

    def _observe(self, response: Response) -> Response:
        started = g.pop("request_started", None)
        if started is not None:
            route = request.url_rule.rule if request.url_rule else "unmatched"
            self.latency.labels(request.method, route, str(response.status_code)).observe(time.perf_counter() - started)
        return response

    def render(self) -> Response:
        return Response(generate_latest(self.registry), content_type=CONTENT_TYPE_LATEST)
