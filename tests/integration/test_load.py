"""Correct under real load (DESIGN section 14): many executions of one owner of a realistic
agent workflow on real workers, PostgreSQL and Redis private to this module (they are
restarted), the offline model provider (answering in 0.2 s, as a model takes time) and a local
HTTP service for the tools; and the daily LLM budget under 20 concurrent executions.

The soak: while 20 executions run, Redis restarts while retry backoffs and delays wait on
countdown messages, a worker is SIGKILLed while model requests are in flight and children
run (a new worker takes its place, as a process manager would start one), and PostgreSQL
restarts while children run and approvals wait. Then the test approves every tool call.
Every execution completes; no model request and no tool call is made twice except the one a
killed worker had in flight (counted on the servers, by each call's Idempotency-Key); each
call is settled once in the ledger, and the day's spend is the sum of the calls' costs."""
from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from examples.llm_server import LLMServer
from orchestrator.db import Execution, ExecutionEvent, ExecutionStep, LedgerEntry, StepCall
from orchestrator.services import agents, api_keys, approvals, executions, providers, usage, workflows
from orchestrator.states import EXECUTION_ACTIVE, ApprovalStatus
from tests.support.servers import private_servers
from tests.support.stack import finished, running_stack
from tests.support.waiting import until

pytestmark = pytest.mark.integration
RUNS = 20
MAP_ITEMS = 5
ID = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}


@pytest.fixture(scope="module")
def servers_of_our_own():
    with private_servers() as servers:
        yield servers


@pytest.fixture(scope="module")
def model():
    server = LLMServer(latency=0.2).start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def stack(servers_of_our_own, model, tmp_path_factory):
    _, broker, database = servers_of_our_own
    with running_stack(tmp_path_factory.mktemp("load"), database, f"{broker.url}/0", workers=0,
                       ORCHESTRATOR_LLM_ALLOW_PRIVATE="1", ORCHESTRATOR_REQUEUE_AFTER_SECONDS="3") as running:
        for name in ("w1", "w2"):
            running.workers.start(name, concurrency=4)          # the Procfile's worker
        yield running


def owner_with_a_model(stack, model: LLMServer, email: str, prices=(1, 1)):
    """A user with provider ``acme`` on the offline server: model m1 at ``prices`` per 1,000 tokens."""
    with stack.engine.sessions.begin() as s:
        owner = api_keys.get_or_create_user(s, email)
        provider = providers.create_provider(s, owner, "acme", "openai")
        providers.create_endpoint(s, stack.engine.settings, owner, provider.id, "main", f"{model.url}/v1",
                                  retry_count=0, timeout_read=30)
        providers.create_model(s, owner, provider.id, "m1", input_price=prices[0], output_price=prices[1])
        providers.create_credential(s, stack.engine.keyring, owner, provider.id, f"sk-load-{email}-0123456789")
        return owner


def agent_workflow(stack) -> dict:
    """fetch (an http node that fails once: a 1 s backoff), then in parallel: four llm branches,
    an agent that looks an item up and publishes it (a tool that needs a person's approval), a
    supervisor team of two agents, a map of five llm children, a subworkflow and a 1 s delay;
    then a join."""
    branches = [{"id": f"b{i}", "type": "llm", "config": {"model": "acme/m1", "prompt": f"Angle {i} on {{{{ input.n }}}}"}}
                for i in range(4)]
    nodes = [
        {"id": "fetch", "type": "http_request", "retry": {"max_attempts": 2, "backoff_seconds": 1},
         "config": {"url": stack.http.url + "/flaky?fail=1&key=fetch-{{ input.n }}-{{ execution.id }}"}},
        *branches,
        {"id": "research", "type": "agent", "config": {
            "agent": "researcher", "prompt": 'Item {{ input.n }}: [call lookup {"id": "{{ input.n }}"}] '
                                             '[call publish {"id": "{{ input.n }}"}]'}},
        {"id": "team", "type": "team", "config": {"team": "desk", "task": "Brief on {{ input.n }}", "max_iterations": 2}},
        {"id": "map", "type": "subworkflow", "config": {
            "workflow": "summarise", "for_each": "{{ range(%d) | list }}" % MAP_ITEMS, "max_concurrency": MAP_ITEMS,
            "input": {"text": "part {{ item }} of {{ input.n }}"}}},
        {"id": "sub", "type": "subworkflow", "config": {"workflow": "summarise", "input": {"text": "{{ input.n }}"}}},
        {"id": "pause", "type": "delay", "config": {"seconds": 1}},
        {"id": "join", "type": "noop"}]
    middle = [n["id"] for n in nodes[1:-1]]
    return {"name": "soak", "nodes": nodes,
            "edges": [*({"source": "fetch", "target": n} for n in middle), *({"source": n, "target": "join"} for n in middle)]}


def store_workload(stack, owner) -> object:
    with stack.engine.sessions.begin() as s:
        owner = s.merge(owner)
        admin = api_keys.get_or_create_user(s, "admin@example.com", is_admin=True)
        for name, method, requires_approval in (("lookup", "GET", False), ("publish", "POST", True)):
            tool = agents.create_tool(s, owner, name, {"kind": "http", "method": method,
                                                       "url": stack.http.url + f"/{name}/{{{{ arguments.id }}}}"},
                                      ID, description=name, requires_approval=requires_approval)
            agents.review_tool(s, admin, tool.id, approved=True)
        agents.create_agent(s, owner, "researcher", model="acme/m1", start="", goal="g", instructions="Use the tools.",
                            tools=["lookup", "publish"])
        agents.create_team(s, owner, "desk", {"type": "supervisor", "supervisor": {"model": "acme/m1"},
                                              "members": [{"name": "writer", "agent": {"model": "acme/m1"}},
                                                          {"name": "editor", "agent": {"model": "acme/m1"}}]})
        workflows.create_workflow(s, stack.engine.keyring, owner, {"name": "summarise", "nodes": [
            {"id": "settle", "type": "delay", "config": {"seconds": 0.5}},
            {"id": "sum", "type": "llm", "config": {"model": "acme/m1", "prompt": "Summarise {{ input.text }}"}}],
            "edges": [{"source": "settle", "target": "sum"}]})
        return workflows.create_workflow(s, stack.engine.keyring, owner, agent_workflow(stack)).id


def rows(stack, query):
    """``query``'s rows; polled again while PostgreSQL restarts."""
    while True:
        try:
            with stack.engine.sessions() as s:
                return s.execute(query).all()
        except OperationalError:
            time.sleep(0.1)


def count_steps(stack, owner, **where) -> int:
    query = select(func.count()).select_from(ExecutionStep).join(Execution).where(Execution.owner_id == owner.id)
    for name, value in where.items():
        column = getattr(ExecutionStep, name.split("__")[0])
        query = query.where(column > value if name.endswith("__gt") else column == value)
    return rows(stack, query)[0][0]


def open_children(stack, owner) -> int:
    return rows(stack, select(func.count()).select_from(Execution).where(
        Execution.owner_id == owner.id, Execution.parent_execution_id.is_not(None),
        Execution.status.in_([s.value for s in EXECUTION_ACTIVE])))[0][0]


def approve_all(stack, owner, stop: threading.Event) -> None:
    while not stop.wait(0.1):
        try:
            with stack.engine.sessions() as s:
                pending = approvals.list_approvals(s, owner, status=ApprovalStatus.PENDING, limit=100).items
            for approval in pending:
                approvals.decide(stack.engine, True, approval_id=approval.id, owner=owner)
        except Exception:       # noqa: BLE001 - the database restarting, or decided meanwhile: next round
            continue


def keyed(keys) -> dict[tuple[str, str, str], list[int]]:
    """Idempotency-Keys (execution:node:attempt[:turn]) by call (execution, node, turn): the attempts."""
    calls = defaultdict(list)
    for key in keys:
        execution, node, attempt, *turn = key.split(":")
        calls[(execution, node, turn[0] if turn else "0")].append(int(attempt))
    return calls


def assert_made_once(calls, lost: set[tuple[str, str, int]], what: str) -> None:
    """Each call once; a call twice only as the next attempt of one whose worker was killed."""
    for (execution, node, turn), attempts in calls.items():
        if len(attempts) > 1:
            first = min(attempts)
            assert sorted(attempts) == [first, first + 1] and (execution, node, first) in lost, \
                f"{what} {execution}:{node} turn {turn} made by attempts {attempts}"


def test_a_soak_of_agent_workflows_through_a_worker_kill_and_redis_and_postgresql_restarts(
        stack, model, servers_of_our_own):
    postgres, broker, _ = servers_of_our_own
    owner = owner_with_a_model(stack, model, "soak@example.com")
    workflow_id = store_workload(stack, owner)
    started = time.monotonic()
    ids = [executions.submit(stack.engine, owner, workflow_id, {"n": i})[0].id for i in range(RUNS)]

    # Redis restarts while the fetches' 1 s backoffs wait on countdown messages the workers hold.
    unacked = redis.Redis.from_url(f"{broker.url}/0")
    until("backoffs wait on countdown messages",
          lambda: count_steps(stack, owner, node_id="fetch", attempt=2, status="queued") >= RUNS // 4
          and unacked.hlen("unacked"), timeout=60)
    broker.close()
    broker.start()

    # A worker dies while model requests are in flight and children run; another takes its place.
    until("model requests are in flight and children run",
          lambda: model.in_flight >= 2 and open_children(stack, owner) >= 10
          and count_steps(stack, owner, node_type="agent", turn__gt=0) >= 1, timeout=60)
    stack.workers.kill("w1")
    stack.workers.start("w3", concurrency=4)

    # PostgreSQL restarts while children run and the agents wait for approvals.
    until("children run and approvals wait",
          lambda: open_children(stack, owner) >= 5 and count_steps(stack, owner, node_id="research",
                                                                   status="waiting") >= 3, timeout=60)
    postgres.stop("fast")
    time.sleep(1)
    postgres.start()

    stop = threading.Event()
    approver = threading.Thread(target=approve_all, args=(stack, owner, stop), daemon=True)
    approver.start()
    try:
        for execution_id in ids:
            execution, steps, _ = finished(stack, execution_id, timeout=120)
            assert execution.status == "completed", (execution.error_message, stack.workers.logs()[-6000:])
    finally:
        stop.set()
    elapsed = time.monotonic() - started
    lost, repeated = assert_counted_once(stack, owner, model)
    print(f"soak: {RUNS} executions through three faults in {elapsed:.0f} s; {len(lost)} attempt(s) lost with "
          f"the worker, {repeated} call(s) they had in flight made again")


def assert_counted_once(stack, owner, model) -> tuple[set, int]:
    lost = {(str(e.execution_id), e.node_id, e.attempt - 1) for e in rows(stack, select(
        ExecutionEvent.execution_id, ExecutionEvent.node_id, ExecutionEvent.attempt).where(
        ExecutionEvent.event_type == "step_queued", ExecutionEvent.message.like("worker % lost during attempt %")))}
    mine = {str(i) for (i,) in rows(stack, select(Execution.id).where(Execution.owner_id == owner.id))}
    requests = [r.headers["idempotency-key"] for r in model.requests if r.headers["idempotency-key"].split(":")[0]
                in mine]
    tools = [k for k in stack.http.idempotency_keys if k and k.split(":")[0] in mine and ":research:" in k]
    assert_made_once(keyed(requests), lost, "model request")
    assert_made_once(keyed(tools), lost, "tool call")
    assert len(tools) >= 2 * RUNS and len(requests) >= RUNS * (4 + 3 + 4 + MAP_ITEMS + 1)
    calls = rows(stack, select(StepCall.id, StepCall.execution_id, StepCall.node_id, StepCall.attempt, StepCall.turn,
                               StepCall.cost).join(Execution).where(Execution.owner_id == owner.id,
                                                                    StepCall.kind == "llm"))
    made = {f"{c.execution_id}:{c.node_id}:{c.attempt}" + (f":{c.turn}" if c.turn else "") for c in calls}
    assert made <= set(requests) and len(made) == len(calls)     # every recorded call was made, once
    settled = dict(rows(stack, select(LedgerEntry.id, LedgerEntry.cost).where(
        LedgerEntry.owner_id == owner.id, LedgerEntry.settled_at.is_not(None))))
    assert settled == {c.id: c.cost for c in calls}               # each call's cost counted once
    today = datetime.now(timezone.utc).date()
    with stack.engine.sessions() as s:
        [day] = usage.usage(s, owner, today, today).items
    assert day["cost"] == sum(c.cost for c in calls) > 0 and day["requests"] == len(calls)   # the day's spend
    return lost, sum(len(a) - 1 for calls in (keyed(requests), keyed(tools)) for a in calls.values())


def test_the_budget_holds_under_twenty_concurrent_executions_and_stops_agents_and_teams(stack, model):
    """Each call costs 0.007 and may cost at most 0.028 (18 prompt tokens estimated, max_tokens
    10, at 1 per 1,000 tokens): against a budget of 0.05 the day passes it by less than 0.028."""
    owner = owner_with_a_model(stack, model, "budget@example.com")
    limit = Decimal("0.05")
    with stack.engine.sessions.begin() as s:
        s.merge(owner).max_llm_cost_per_day = limit
        ask = workflows.create_workflow(s, stack.engine.keyring, owner, {"name": "ask", "nodes": [
            {"id": "ask", "type": "llm", "config": {"model": "acme/m1", "prompt": "Say hello",
                                                    "params": {"max_tokens": 10}}}]}).id
    ids = [executions.submit(stack.engine, owner, ask)[0].id for _ in range(RUNS)]
    outcomes = [finished(stack, i, timeout=60) for i in ids]
    completed = [e for e, _, _ in outcomes if e.status == "completed"]
    refused = [(e, steps) for e, steps, _ in outcomes if e.status == "failed"]
    assert completed and refused and len(completed) + len(refused) == RUNS
    assert all(steps["ask"].error_message.startswith("budget_exceeded") and steps["ask"].attempt == 1
               for _, steps in refused)
    spent = sum((e.total_cost for e in completed), Decimal(0))
    assert limit <= spent < limit + Decimal("0.028")
    asked = {r.headers["idempotency-key"].split(":")[0] for r in model.requests}
    assert {str(e.id) for e in completed} <= asked and not {str(e.id) for e, _ in refused} & asked

    with stack.engine.sessions.begin() as s:
        owner = s.merge(owner)
        agents.create_agent(s, owner, "thinker", model="acme/m1", start="", goal="g")
        late = [workflows.create_workflow(s, stack.engine.keyring, owner, {"name": name, "nodes": [node]}).id
                for name, node in (
                    ("late-agent", {"id": "think", "type": "agent", "config": {"agent": "thinker", "prompt": "q"}}),
                    ("late-team", {"id": "crew", "type": "team", "config": {"task": "t", "team": {
                        "type": "round_robin", "members": [{"name": "a", "agent": "thinker"}]}}}))]
    for workflow_id, node in zip(late, ("think", "crew"), strict=True):
        execution, steps, _ = finished(stack, executions.submit(stack.engine, owner, workflow_id)[0].id)
        assert execution.status == "failed" and steps[node].error_message.startswith("budget_exceeded")
        assert str(execution.id) not in {r.headers["idempotency-key"].split(":")[0] for r in model.requests}
