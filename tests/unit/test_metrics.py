"""The hook functions count into the metrics an endpoint serves."""
from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from orchestrator import metrics


def exported(kind: str) -> set[str]:
    text = generate_latest(metrics.scrape_registry(kind)).decode()
    return {family.name for family in text_string_to_metric_families(text) if family.name.startswith("orchestrator_")}


def served(kind: str = "worker") -> dict[tuple, float]:
    text = generate_latest(metrics.scrape_registry(kind)).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0) - before.get(key, 0)


def test_attempts_failures_and_retries_by_node_type():
    before = served()
    metrics.attempt_started("probe")
    metrics.attempt_ended("probe", 0.2, failed=False)
    metrics.attempt_started("probe")
    metrics.attempt_ended("probe", 0.3, failed=True, will_retry=True)
    metrics.attempt_started("probe")
    metrics.attempt_ended("probe", 2.0, failed=True)
    after = served()
    assert delta(before, after, "orchestrator_step_attempts_total", node_type="probe") == 3
    assert delta(before, after, "orchestrator_step_failures_total", node_type="probe") == 2
    assert delta(before, after, "orchestrator_step_retries_total", node_type="probe") == 1
    assert delta(before, after, "orchestrator_step_duration_seconds_count", node_type="probe") == 3
    assert delta(before, after, "orchestrator_step_duration_seconds_bucket", node_type="probe", le="0.5") == 2


def test_executions_recoveries_and_schedules():
    before, before_beat = served(), served("beat")
    metrics.execution_ended("completed", 1.5)
    metrics.execution_ended("cancelled", None)          # never started: no duration
    metrics.step_recovered("lease_expired")
    metrics.schedule_fired(-0.01)                        # a slot fired a hair early counts as on time
    metrics.schedule_misfired("skip")
    after, after_beat = served(), served("beat")
    assert delta(before, after, "orchestrator_execution_duration_seconds_count", status="completed") == 1
    assert delta(before, after, "orchestrator_execution_duration_seconds_count", status="cancelled") == 0
    assert delta(before, after, "orchestrator_sweeper_recoveries_total", reason="lease_expired") == 1
    assert delta(before_beat, after_beat, "orchestrator_schedule_fire_delay_seconds_bucket", le="0.01") == 1
    assert delta(before_beat, after_beat, "orchestrator_schedule_misfires_total", policy="skip") == 1


def test_each_kind_of_process_exports_the_families_it_produces():
    metrics.attempt_ended("probe", 0.1, failed=False)       # counted in this process, where every family lives
    metrics.schedule_misfired("skip")
    api, worker, beat = exported("api"), exported("worker"), exported("beat")
    steps = {"orchestrator_step_attempts", "orchestrator_step_duration_seconds", "orchestrator_sweeper_recoveries"}
    schedules = {"orchestrator_schedule_fire_delay_seconds", "orchestrator_schedule_misfires"}
    assert steps <= worker and not (steps & (api | beat))
    assert schedules <= beat and not (schedules & (api | worker))
    assert "orchestrator_api_request_duration_seconds" in api and not ({"orchestrator_api_request_duration_seconds",
                                                                        "orchestrator_executions_rate_limited"} & worker)
    assert {"orchestrator_executions_submitted", "orchestrator_build_info"} <= api & worker & beat
