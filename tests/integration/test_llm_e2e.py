"""The ``llm`` node end to end: PostgreSQL, Redis, `celery worker` processes, the API over HTTP
and the offline model provider over HTTP."""
from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import requests
from sqlalchemy import select

from examples import llm_server as llm
from examples.llm_server import LLMServer
from orchestrator.db import Credential, Execution, ExecutionEvent, LedgerEntry, StepCall, StructuredOutput
from orchestrator.llm import ledger
from orchestrator.services import api_keys, executions, providers, workflows
from tests.support.api import server_sent_events
from tests.support.servers import free_port
from tests.support.stack import finished, running_stack, submit, wait_until
from tests.support.waiting import until

pytestmark = pytest.mark.integration
KEY = "sk-e2e-live-key-0123456789abcdef"
SECOND_KEY = "sk-e2e-second-key-0123456789abc"


@pytest.fixture(scope="module")
def provider_server():
    server = LLMServer().start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def stack(servers, tmp_path_factory, provider_server):
    with running_stack(tmp_path_factory.mktemp("llm"), servers.create_database(), servers.claim_redis_db(),
                       ORCHESTRATOR_LLM_ALLOW_PRIVATE="1", ORCHESTRATOR_LLM_RETRY_BACKOFF_SECONDS="0.05") as running:
        with running.engine.sessions.begin() as s:
            owner = s.merge(running.owner)
            for name, keys, retry_count in (("acme", (KEY, SECOND_KEY), 2), ("backup", (KEY + "-b",), 0)):
                provider = providers.create_provider(s, owner, name, "openai")
                providers.create_endpoint(s, running.engine.settings, owner, provider.id, "main",
                                          f"{provider_server.url}/v1", retry_count=retry_count, timeout_read=20)
                for model_id, prices in (("m1", (0.5, 1.5)), ("m2", (None, 2.0))):
                    providers.create_model(s, owner, provider.id, model_id, input_price=prices[0],
                                           output_price=prices[1])
                for i, key in enumerate(keys):
                    providers.create_credential(s, running.engine.keyring, owner, provider.id, key, alias=f"k{i + 1}")
        yield running


@pytest.fixture(autouse=True)
def fresh_provider(provider_server, stack):
    provider_server.reset()
    with stack.engine.sessions.begin() as s:
        for credential in s.scalars(select(Credential)):
            credential.cooldown_until = None
            credential.quota_limit = None


def llm_workflow(**config):
    return {"name": "ask", "nodes": [{"id": "ask", "type": "llm",
                                      "config": {"model": "acme/m1", "prompt": "{{ input.question }}", **config}}]}


def calls_of(stack, execution_id):
    with stack.engine.sessions() as s:
        return s.scalars(select(StepCall).where(StepCall.execution_id == execution_id)
                         .order_by(StepCall.turn, StepCall.seq)).all()


def test_a_call_with_usage_and_cost_on_step_execution_and_usage_metrics(stack, provider_server):
    execution_id = submit(stack, llm_workflow(), {"question": "Say hello"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    assert steps["ask"].output["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7,
                                            "cost": 0.0085}
    assert (execution.total_tokens, execution.total_cost) == (7, Decimal("0.0085"))
    [call] = calls_of(stack, execution_id)
    assert (call.kind, call.target, call.status, call.cost, call.usage["total_tokens"]) == \
        ("llm", "acme/m1", "ok", Decimal("0.0085"), 7)
    with stack.engine.sessions() as s:
        entry = s.get(LedgerEntry, call.id)
        assert (entry.model, entry.cost, entry.settled_at is not None) == ("m1", Decimal("0.0085"), True)
    assert len(provider_server.requests) == 1


def test_cost_is_null_when_a_price_is_missing(stack):
    execution_id = submit(stack, llm_workflow(model="acme/m2"), {"question": "q"})
    execution, steps, _ = finished(stack, execution_id)
    assert steps["ask"].output["usage"]["cost"] is None and execution.total_cost is None


def test_429_parks_the_step_holding_no_worker_then_succeeds(stack, provider_server):
    provider_server.script(*[llm.error(429, "slow down", retry_after=2)] * 2)   # both credentials
    execution_id = submit(stack, llm_workflow(), {"question": "q"})
    _, steps, events = wait_until(stack, execution_id, lambda e, steps, ev: any(
        x.event_type == "step_turn" for x in ev))
    parked = steps["ask"]
    assert parked.status == "queued" and parked.not_before > datetime.now(timezone.utc)
    assert parked.worker is None or parked.lease_expires_at is None
    execution, steps, _ = finished(stack, execution_id, timeout=30)
    assert execution.status == "completed", execution.error_message
    assert [(c.turn, c.status) for c in calls_of(stack, execution_id)] == [(0, "error"), (0, "error"), (1, "ok")]


def test_5xx_retries_then_the_fallback_answers(stack, provider_server):
    provider_server.script(*[llm.error(502, "bad gateway", model="m1")] * 3)
    execution_id = submit(stack, llm_workflow(fallbacks=["backup/m1"]), {"question": "q"})
    execution, steps, _ = finished(stack, execution_id)
    assert steps["ask"].output["model"] == {"provider": "backup", "model_id": "m1", "fallback_index": 1}
    assert [(c.target, c.status) for c in calls_of(stack, execution_id)] == \
        [("acme/m1", "error")] * 3 + [("backup/m1", "ok")]


def test_a_401_rotates_to_the_next_credential(stack, provider_server):
    provider_server.script(llm.error(401, "invalid key"))
    execution_id = submit(stack, llm_workflow(), {"question": "q"})
    execution, _, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    assert {r.api_key for r in provider_server.requests} == {KEY, SECOND_KEY}


def test_daily_quota_exhausted_fails_naming_it(stack):
    with stack.engine.sessions.begin() as s:
        for credential in s.scalars(select(Credential).where(Credential.alias.in_(["k1", "k2"]))):
            credential.quota_limit, credential.quota_used = 1, 1
            credential.quota_day = datetime.now(timezone.utc).date()
    execution_id = submit(stack, llm_workflow(), {"question": "q"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "failed"
    assert "'k1' used its daily quota of 1 requests" in steps["ask"].error_message


SCHEMA = {"type": "object", "required": ["title"], "properties": {"title": {"type": "string", "minLength": 3}}}


def test_structured_output_invalid_then_repaired(stack, provider_server):
    provider_server.script(llm.json_reply({"title": "x"}))
    execution_id = submit(stack, llm_workflow(output_schema=SCHEMA), {"question": "q"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    assert steps["ask"].output["structured"]["title"].startswith("Your answer is not valid")
    with stack.engine.sessions() as s:
        row = s.scalars(select(StructuredOutput).where(StructuredOutput.execution_id == execution_id)).one()
        assert row.schema_valid is True


def test_structured_output_invalid_after_the_repairs_fails_naming_the_error(stack, provider_server):
    provider_server.script(llm.json_reply({"title": "x"}), llm.json_reply({"title": "y"}))
    execution_id = submit(stack, llm_workflow(output_schema=SCHEMA), {"question": "q"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "failed"
    assert "title: 'y' is too short" in steps["ask"].error_message


def test_streaming_deltas_are_visible_over_sse(stack, provider_server):
    with stack.engine.sessions.begin() as s:
        key = api_keys.issue_api_key(s, s.merge(stack.owner), "sse")[1]
    api = stack.workers.start_api("api", free_port())
    provider_server.script(llm.stream([f"part{i} " for i in range(12)], interval=0.1))
    execution_id = submit(stack, llm_workflow(stream=True), {"question": "q"})
    with requests.get(f"{api}/api/v1/executions/{execution_id}/events", stream=True, timeout=30,
                      headers={"Accept": "text/event-stream", "Authorization": f"Bearer {key}"}) as stream:
        events = list(server_sent_events(stream.iter_lines(decode_unicode=True)))
    deltas = [e["data"]["data"]["delta"] for e in events if e["event"] == "llm_delta"]
    assert "".join(deltas) == "".join(f"part{i} " for i in range(12))
    assert 3 <= len(deltas) <= 9                    # about every 200 ms over 1.2 s


def test_memory_carries_the_previous_answer(stack, provider_server):
    with stack.engine.sessions.begin() as s:        # memory belongs to a workflow: one, run twice
        workflow_id = workflows.create_workflow(s, stack.engine.keyring, stack.owner,
                                                llm_workflow(memory={"key": "{{ input.chat }}"})).id
    first = executions.submit(stack.engine, stack.owner, workflow_id,
                              {"question": "What is Orchestrator?", "chat": "c1"})[0].id
    assert finished(stack, first)[0].status == "completed"
    provider_server.reset()
    second = executions.submit(stack.engine, stack.owner, workflow_id, {"question": "And then?", "chat": "c1"})[0].id
    assert finished(stack, second)[0].status == "completed"
    assert provider_server.requests[0].messages[:2] == [
        {"role": "user", "content": "What is Orchestrator?"},
        {"role": "assistant", "content": "offline reply to: What is Orchestrator?"}]


def test_the_key_never_appears_and_calls_are_redacted(stack, provider_server, servers):
    provider_server.script(llm.error(401, f"key {KEY} revoked"))
    question = "Mail jane.doe@example.com with header Authorization: Bearer tok_1234567890abcdef"
    execution_id = submit(stack, llm_workflow(), {"question": question})
    execution, _, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    stored = " ".join(str((c.request, c.response, c.error, c.meta)) for c in calls_of(stack, execution_id))
    assert "jane.doe@example.com" not in stored and "tok_1234567890abcdef" not in stored
    assert "[REDACTED:email]" in stored and "Bearer [REDACTED]" in stored

    dbname = stack.engine.settings.database_url.rsplit("/", 1)[1]
    base = servers.pg_admin_url.rsplit("/", 1)[0]
    dump = subprocess.run(["pg_dump", "--data-only", f"{base}/{dbname}"], capture_output=True, check=True).stdout
    assert b"k1" in dump                                     # the dump is real
    for key in (KEY, SECOND_KEY):
        assert key.encode() not in dump
        assert key not in stack.workers.logs()
    with stack.engine.sessions() as s:
        texts = [str((e.message, e.data)) for e in s.scalars(select(ExecutionEvent))]
    assert not any(KEY in t or SECOND_KEY in t for t in texts)


def test_a_worker_killed_during_a_slow_call(stack, provider_server):
    workers = stack.workers
    workers.start("victim", concurrency=1)
    workers.kill("w1")
    workers.kill("w2")
    try:
        provider_server.script(llm.delay(3))
        execution_id = submit(stack, llm_workflow(), {"question": "slow"})
        wait_until(stack, execution_id, lambda e, steps, _: steps["ask"].status == "running")
        until("the call is in flight", lambda: provider_server.in_flight)
        workers.kill("victim")
        workers.start("w1")
        execution, steps, _ = finished(stack, execution_id, timeout=40)
        assert execution.status == "completed", execution.error_message
        assert len(provider_server.requests) == 1            # the finished call, once
        assert [c.status for c in calls_of(stack, execution_id)] == ["ok"]
        with stack.engine.sessions() as s:
            assert s.get(Execution, execution_id).total_tokens == steps["ask"].output["usage"]["total_tokens"]
    finally:
        if "w1" not in workers.procs:
            workers.start("w1")
        workers.start("w2")


def test_a_call_over_the_days_budget_fails_its_step_with_budget_exceeded(stack, provider_server):
    with stack.engine.sessions.begin() as s:
        owner = s.merge(stack.owner)
        assert ledger.budget_left(s, owner.id) is None   # no limit yet
        owner.max_llm_cost_per_day = Decimal(1000)
        s.flush()
        spent_today = 1000 - ledger.budget_left(s, owner.id)          # by the tests before this one
        owner.max_llm_cost_per_day = spent_today + Decimal("0.001")    # below one call's 0.0085
    try:
        first = submit(stack, llm_workflow(), {"question": "Say hello"})
        assert finished(stack, first)[0].status == "completed"     # nothing spent before it: allowed
        provider_server.reset()
        second = submit(stack, llm_workflow(), {"question": "Say hello"})
        execution, steps, _ = finished(stack, second)
        assert execution.status == "failed" and steps["ask"].attempt == 1
        assert steps["ask"].error_message.startswith("budget_exceeded")
        assert provider_server.requests == []                       # refused before any call
    finally:
        with stack.engine.sessions.begin() as s:
            s.merge(stack.owner).max_llm_cost_per_day = None
