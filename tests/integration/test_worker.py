"""The engine end to end: real PostgreSQL, real Redis, real `celery worker` processes and a
real local HTTP server."""
from __future__ import annotations

import time
import pytest
from sqlalchemy import select

from orchestrator.db import HumanApproval
from orchestrator.engine import StepMessage, cancel, decide_approval, pause, resume
from tests.support.stack import finished, http_node, state, submit, wait_until

pytestmark = pytest.mark.integration


def test_chain_of_http_and_transform_nodes(stack):
    http = stack[2]
    definition = {"name": "chain", "nodes": [
        http_node("fetch", f"{http.url}/data?key=chain"),
        {"id": "digest", "type": "transform", "config": {"output": {"path": "{{ nodes.fetch.output.json.path }}"}}}],
        "edges": [{"source": "fetch", "target": "digest"}]}
    execution, steps, _ = finished(stack, submit(stack, definition))
    assert execution.status == "completed", execution.error_message
    assert execution.output == {"digest": {"path": "/data"}}
    assert steps["fetch"].output["status_code"] == 200
    assert f"{execution.id}:fetch:1" in http.idempotency_keys
    assert {steps[n].worker.split("@")[0] for n in steps} <= {"w1", "w2"}


def test_fan_out_to_ten_and_fan_in_runs_the_join_once(stack):
    nodes = [{"id": "start", "type": "noop"}] + [
        {"id": f"b{i}", "type": "transform", "config": {"output": i}} for i in range(10)] + [
        {"id": "join", "type": "transform",
         "config": {"output": "{{ [" + ", ".join(f"nodes.b{i}.output" for i in range(10)) + "] | sum }}"}}]
    edges = [{"source": "start", "target": f"b{i}"} for i in range(10)] + [
        {"source": f"b{i}", "target": "join"} for i in range(10)]
    execution, steps, events = finished(stack, submit(stack, {"name": "fan", "nodes": nodes, "edges": edges}))
    assert execution.status == "completed", execution.error_message
    assert steps["join"].output == 45
    assert [e.event_type for e in events if e.node_id == "join"] == ["step_queued", "step_running", "step_completed"]
    assert len({steps[f"b{i}"].worker for i in range(10)}) >= 2   # branches ran on different workers


def test_conditional_edges_with_skip_propagation(stack):
    definition = {"name": "cond", "nodes": [
        {"id": "check", "type": "transform", "config": {"output": "{{ input.score }}"}},
        {"id": "high", "type": "noop"}, {"id": "low", "type": "noop"}, {"id": "after_low", "type": "noop"}],
        "edges": [{"source": "check", "target": "high", "condition": "nodes.check.output >= 50"},
                  {"source": "check", "target": "low", "condition": "nodes.check.output < 50"},
                  {"source": "low", "target": "after_low"}]}
    execution, steps, _ = finished(stack, submit(stack, definition, {"score": 90}))
    assert execution.status == "completed"
    assert (steps["high"].status, steps["low"].status, steps["after_low"].status) == ("completed", "skipped", "skipped")


def test_retry_then_success_with_backoff(stack):
    http = stack[2]
    definition = {"name": "retry", "nodes": [http_node(
        "fetch", f"{http.url}/flaky?key=retry-1&fail=2",
        retry={"max_attempts": 3, "backoff_seconds": 0.5, "backoff_factor": 2})]}
    execution, steps, events = finished(stack, submit(stack, definition))
    assert execution.status == "completed", execution.error_message
    assert steps["fetch"].attempt == 3 and steps["fetch"].output["json"]["hit"] == 3
    running = [e.created_at for e in events if e.event_type == "step_running"]
    assert len(running) == 3
    assert (running[1] - running[0]).total_seconds() >= 0.5
    assert (running[2] - running[1]).total_seconds() >= 1.0


def test_a_node_that_hangs_past_its_timeout_fails(stack):
    http = stack[2]
    definition = {"name": "hang", "nodes": [http_node("slow", f"{http.url}/slow?s=6&key=hang", timeout_seconds=1,
                                                      config={"timeout_seconds": 30})]}
    started = time.monotonic()
    execution, steps, _ = finished(stack, submit(stack, definition))
    assert time.monotonic() - started < 5
    assert execution.status == "failed"
    assert steps["slow"].error_message == "timed out after 1s"


@pytest.mark.parametrize("policy, expected", [("fail", "failed"), ("continue", "completed"),
                                              ("fail_branch", "completed"), ("default", "completed")])
def test_each_on_error_policy(stack, policy, expected):
    http = stack[2]
    edges = [{"source": "call", "target": "after"}]
    if policy == "fail_branch":
        edges.append({"source": "call", "target": "fallback", "on": "error"})
    definition = {"name": policy, "nodes": [
        http_node("call", f"{http.url}/status/500", on_error=policy, default_output={"default": True}),
        {"id": "after", "type": "transform", "config": {"output": "{{ nodes.call.output }}"}},
        {"id": "fallback", "type": "noop"}], "edges": edges}
    execution, steps, _ = finished(stack, submit(stack, definition))
    assert execution.status == expected
    assert "HTTP 500" in steps["call"].error_message
    after = {"fail": "cancelled", "continue": "completed", "fail_branch": "skipped", "default": "completed"}[policy]
    assert steps["after"].status == after
    if policy == "default":
        assert steps["after"].output == {"default": True}


def test_execution_timeout(stack):
    definition = {"name": "slow-run", "timeout_seconds": 1,
                  "nodes": [{"id": "wait", "type": "delay", "config": {"seconds": 60}}]}
    execution, steps, _ = finished(stack, submit(stack, definition), timeout=10)
    assert execution.status == "timed_out"
    assert steps["wait"].status == "cancelled"


def test_cancel_while_a_node_runs(stack):
    http = stack[2]
    definition = {"name": "cancel", "nodes": [http_node("slow", f"{http.url}/slow?s=3&key=cancel"),
                                              {"id": "next", "type": "noop"}],
                  "edges": [{"source": "slow", "target": "next"}]}
    execution_id = submit(stack, definition)
    wait_until(stack, execution_id, lambda e, steps, _: steps["slow"].status == "running")
    cancel(stack[0], execution_id)
    execution, steps, _ = state(stack, execution_id)
    assert execution.status == "cancelled" and steps["slow"].status == "cancelled"
    time.sleep(3.5)                                # the node would have finished by now
    execution, steps, _ = state(stack, execution_id)
    assert execution.status == "cancelled" and steps["next"].status == "cancelled"
    assert steps["slow"].output is None


def test_pause_then_resume(stack):
    http = stack[2]
    definition = {"name": "pause", "nodes": [http_node("slow", f"{http.url}/slow?s=1&key=pause"),
                                             {"id": "next", "type": "noop"}],
                  "edges": [{"source": "slow", "target": "next"}]}
    execution_id = submit(stack, definition)
    wait_until(stack, execution_id, lambda e, steps, _: steps["slow"].status == "running")
    pause(stack[0], execution_id)
    execution, steps, _ = wait_until(stack, execution_id, lambda e, steps, _: steps["slow"].status == "completed")
    time.sleep(1)
    execution, steps, _ = state(stack, execution_id)
    assert execution.status == "paused" and steps["next"].status == "queued"   # nothing dispatched
    resume(stack[0], execution_id)
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "completed" and steps["next"].status == "completed"


@pytest.mark.parametrize("decision", ["approve", "reject", "expire"])
def test_approval(stack, decision):
    engine, owner, *_ = stack
    definition = {"name": "approval", "nodes": [
        {"id": "ask", "type": "human_approval", "config": {"expires_in_seconds": 1 if decision == "expire" else 600}},
        {"id": "go", "type": "transform", "config": {"output": "{{ nodes.ask.output }}"}}],
        "edges": [{"source": "ask", "target": "go"}]}
    execution_id = submit(stack, definition)
    wait_until(stack, execution_id, lambda e, steps, _: steps["ask"].status == "waiting")
    with engine.sessions() as s:
        approval = s.scalar(select(HumanApproval).where(HumanApproval.execution_id == execution_id))
    if decision != "expire":
        decide_approval(engine, decision == "approve", {"by": "qa"}, approval_id=approval.id, owner_id=owner.id)
    execution, steps, _ = finished(stack, execution_id)
    if decision == "approve":
        assert execution.status == "completed" and steps["go"].output == {"approved": True, "by": "qa"}
    else:
        assert execution.status == "failed"
        assert steps["ask"].error_message == {"reject": "approval rejected", "expire": "approval expired"}[decision]


def test_the_same_message_delivered_twice_runs_once(stack):
    engine, _, http, _ = stack
    definition = {"name": "dup", "nodes": [http_node("call", f"{http.url}/count?key=dup-1")]}
    execution_id = submit(stack, definition)
    execution, steps, _ = finished(stack, execution_id)
    step = steps["call"]
    engine.dispatcher.send([StepMessage(step.id, execution_id, "call", "http_request", 1, 30)])
    time.sleep(1.5)
    execution, steps, events = state(stack, execution_id)
    assert http.hits["dup-1"] == 1
    assert sum(1 for e in events if e.event_type == "step_running") == 1


def test_a_worker_killed_mid_node_is_recovered_by_another(stack):
    engine, _, http, workers = stack
    workers.start("victim", concurrency=1)
    workers.kill("w1")
    workers.kill("w2")                              # only the victim can take the first attempt
    try:
        definition = {"name": "kill", "nodes": [http_node("slow", f"{http.url}/slow?s=2&key=kill")]}
        execution_id = submit(stack, definition)
        _, steps, _ = wait_until(stack, execution_id, lambda e, steps, _: steps["slow"].status == "running")
        assert steps["slow"].worker.startswith("victim@")
        workers.kill("victim")
        workers.start("w1")
        execution, steps, events = finished(stack, execution_id, timeout=30)
        assert execution.status == "completed", execution.error_message
        assert steps["slow"].attempt >= 2 and steps["slow"].worker.startswith("w1@")
        assert steps["slow"].failed_attempts == 0
        assert any("lost during attempt 1" in (e.message or "") for e in events)
    finally:
        if "w1" not in workers.procs:
            workers.start("w1")
        workers.start("w2")
