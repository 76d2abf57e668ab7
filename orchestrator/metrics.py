"""Prometheus metrics, counted as things happen, in one place for the API, workers and beat.

Counters and histograms here are updated where the event happens (a submission, an attempt,
a recovery, a schedule slot). With ``PROMETHEUS_MULTIPROC_DIR`` set (the Procfile and the
image set it), the processes of one API (gunicorn workers) or one worker (its pool) write
their figures to files there and any one of them answers for all; without it, each process
counts alone, which is right for a single process (tests, standalone).

What the database knows at a given moment (active executions, queued steps, pending
approvals, schedule lag) is read at scrape time by ``orchestrator.services.stats`` with
indexed queries bounded by the live rows, never by the history.

Engine hook points call the functions below (``attempt_started`` ...), not the metric
objects, so that the names and labels stay here.
"""
from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

# Upper bounds, in seconds, of the duration histograms' buckets.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 7200.0)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

EXECUTIONS_SUBMITTED = Counter("orchestrator_executions_submitted_total", "Executions created, by trigger",
                               ["trigger"])
EXECUTIONS_RATE_LIMITED = Counter("orchestrator_executions_rate_limited_total",
                                  "Submissions refused because the owner was over max_executions_per_minute")
EXECUTION_DURATION = Histogram("orchestrator_execution_duration_seconds",
                               "Duration of executions that ended, by final status", ["status"],
                               buckets=DURATION_BUCKETS)
STEP_ATTEMPTS = Counter("orchestrator_step_attempts_total", "Step attempts started, by node type", ["node_type"])
STEP_FAILURES = Counter("orchestrator_step_failures_total", "Step attempts that failed, by node type", ["node_type"])
STEP_RETRIES = Counter("orchestrator_step_retries_total", "Failed step attempts scheduled to run again, by node type",
                       ["node_type"])
STEP_DURATION = Histogram("orchestrator_step_duration_seconds", "Duration of step attempts that ended, by node type",
                          ["node_type"], buckets=DURATION_BUCKETS)
SWEEPER_RECOVERIES = Counter("orchestrator_sweeper_recoveries_total",
                             "Steps the maintenance sweep recovered: lease_expired (its worker vanished), "
                             "requeued (its message was lost)", ["reason"])
SCHEDULE_FIRE_DELAY = Histogram("orchestrator_schedule_fire_delay_seconds",
                                "How long after its slot a schedule fired", buckets=DURATION_BUCKETS)
SCHEDULE_MISFIRES = Counter("orchestrator_schedule_misfires_total",
                            "Schedule slots found later than the misfire grace, by misfire policy", ["policy"])
API_LATENCY = Histogram("orchestrator_api_request_duration_seconds", "API latency until the response starts",
                        ["method", "route", "status"], buckets=LATENCY_BUCKETS)


# The families each kind of process produces, and so exports from its multiprocess
# directory; a family listed for no kind (build info, the API's scrape-time gauges, the
# workers' liveness) is exported by every process that has it.
PRODUCED_BY = {
    "api": (EXECUTIONS_SUBMITTED, EXECUTIONS_RATE_LIMITED, API_LATENCY, EXECUTION_DURATION),
    "worker": (EXECUTIONS_SUBMITTED, EXECUTION_DURATION, STEP_ATTEMPTS, STEP_FAILURES, STEP_RETRIES, STEP_DURATION,
               SWEEPER_RECOVERIES),
    "beat": (EXECUTIONS_SUBMITTED, EXECUTIONS_RATE_LIMITED, SCHEDULE_FIRE_DELAY, SCHEDULE_MISFIRES),
}


# -- hook points --------------------------------------------------------------------

def execution_submitted(trigger: str) -> None:
    EXECUTIONS_SUBMITTED.labels(trigger).inc()


def execution_ended(status: str, seconds: float | None) -> None:
    """An execution reached a terminal status (``seconds``: its duration, if it started)."""
    if seconds is not None:
        EXECUTION_DURATION.labels(status).observe(seconds)


def attempt_started(node_type: str) -> None:
    STEP_ATTEMPTS.labels(node_type).inc()


def attempt_ended(node_type: str, seconds: float, *, failed: bool, will_retry: bool = False) -> None:
    """An attempt ended: succeeded, or failed (and ``will_retry`` when the engine runs it again)."""
    STEP_DURATION.labels(node_type).observe(seconds)
    if failed:
        STEP_FAILURES.labels(node_type).inc()
        if will_retry:
            STEP_RETRIES.labels(node_type).inc()


def step_recovered(reason: str) -> None:
    """The sweep recovered a step: ``lease_expired`` or ``requeued``."""
    SWEEPER_RECOVERIES.labels(reason).inc()


def schedule_fired(delay_seconds: float) -> None:
    SCHEDULE_FIRE_DELAY.observe(max(delay_seconds, 0.0))


def schedule_misfired(policy: str) -> None:
    SCHEDULE_MISFIRES.labels(policy).inc()


# -- exposition ---------------------------------------------------------------------

def build_version() -> str:
    try:
        return version("orchestrator")
    except PackageNotFoundError:
        return "unknown"


class BuildInfo(Collector):
    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily("orchestrator_build_info", "The running version (value 1)",
                                 labels=["version", "python_version"])
        info.add_metric([build_version(), platform.python_version()], 1)
        yield info


class _Produced(Collector):
    """The figures counted here (the multiprocess directory's, or this process's own), less the
    families that only another kind of process produces."""

    def __init__(self, kind: str):
        names = {kind_: {family.name for metric in metrics_ for family in metric.describe()}
                 for kind_, metrics_ in PRODUCED_BY.items()}
        self.hidden = set().union(*names.values()) - names[kind]
        self.source = MultiProcessCollector(None) if multiprocess_dir() else REGISTRY

    def collect(self) -> Iterable[Metric]:
        return (family for family in self.source.collect() if family.name not in self.hidden)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


def scrape_registry(kind: str, *collectors: Collector) -> CollectorRegistry:
    """What a metrics endpoint of a ``kind`` of process (api, worker, beat) serves: the
    families it produces, counted by every process sharing its multiprocess directory (or by
    this process alone), build info, and ``collectors``."""
    registry = CollectorRegistry()
    for collector in (_Produced(kind), BuildInfo(), *collectors):
        registry.register(collector)
    return registry
