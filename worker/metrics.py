"""The metrics endpoint of a worker or beat process: set ``ORCHESTRATOR_WORKER_METRICS_PORT``
and the main process serves ``/metrics`` there, with the figures of all its pool processes
(through PROMETHEUS_MULTIPROC_DIR) and ``orchestrator_worker_up`` naming the node."""
from __future__ import annotations

import logging

from celery import signals
from prometheus_client import start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from orchestrator import metrics
from orchestrator.config import Settings

log = logging.getLogger(__name__)


class NodeCollector(Collector):
    """1 for this process, labelled with its node name: count these to count live workers."""

    def __init__(self, node: str, role: str):
        self.node, self.role = node, role

    def collect(self):
        up = GaugeMetricFamily("orchestrator_worker_up", "This worker or beat process is running (value 1)",
                               labels=["node", "role"])
        up.add_metric([self.node, self.role], 1)
        yield up


def serve(port: int | None, node: str, role: str, forks: bool) -> None:
    if port is None:
        return
    if forks and not metrics.multiprocess_dir():
        log.warning("PROMETHEUS_MULTIPROC_DIR is not set: the metrics on port %s leave out the pool processes' "
                    "figures", port)
    try:
        start_http_server(port, registry=metrics.scrape_registry(role, NodeCollector(node, role)))
    except OSError as exc:
        log.error("metrics: cannot listen on ORCHESTRATOR_WORKER_METRICS_PORT=%s: %s", port, exc)
        return
    log.info("metrics on port %s", port)


def connect(app, settings: Settings) -> None:
    """Serve the metrics of ``app``'s worker or beat processes once they start."""
    def worker_metrics(sender=None, **_kwargs) -> None:
        if sender.app is app:
            serve(settings.worker_metrics_port, sender.hostname, "worker", forks="prefork" in repr(sender.pool_cls))

    def beat_metrics(sender=None, **_kwargs) -> None:
        if sender.app is app:
            serve(settings.worker_metrics_port, sender.app.conf.get("beat_node_name") or "beat", "beat", forks=False)

    signals.worker_init.connect(worker_metrics, weak=False)
    signals.beat_init.connect(beat_metrics, weak=False)
