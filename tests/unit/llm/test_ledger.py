"""The ledger of model requests on PostgreSQL and SQLite: reservations against the daily
budget (the one choke point), settlement, what the day's spend and GET /usage sum, and the
roll-up of finished days."""
from __future__ import annotations

import math
import threading
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from orchestrator.db import ExecutionStep, LedgerEntry, UsageMetric, User
from orchestrator.llm import ledger
from orchestrator.llm.protocol import DEFAULT_MAX_TOKENS, Request
from orchestrator.llm.resolution import resolve
from orchestrator.nodes.base import CallRecord, NodeContext, NodeError
from orchestrator.services import usage

ASK = Request([{"role": "user", "content": "x" * 300}], {"max_tokens": 1000})   # 100 tokens in, 1000 out


def target(world, ref="acme/m1"):
    with world.sessions() as s:
        return resolve(s, world.owner.id, ref)


def running_step(world, node_id="ask", attempt=1, turn=0) -> NodeContext:
    """A running step of a new execution, and the context its node would call the model from."""
    execution_id = world.execution()
    with world.sessions.begin() as s:
        s.add(ExecutionStep(execution_id=execution_id, node_id=node_id, node_type="llm", status="running",
                            attempt=attempt, turn=turn))
    return NodeContext(str(execution_id), node_id, attempt, {}, {}, turn=turn, owner_id=str(world.owner.id),
                       workflow_id=str(world.workflow_id))


def reserve(world, ctx, request=ASK, ref="acme/m1") -> uuid.UUID:
    call_id = uuid.uuid4()
    with world.sessions.begin() as s:
        ledger.reserve(s, ctx, target(world, ref), request, call_id)
    return call_id


def budget(world, limit):
    with world.sessions.begin() as s:
        s.get(User, world.owner.id).max_llm_cost_per_day = limit


def left(world):
    with world.sessions() as s:
        return ledger.budget_left(s, world.owner.id)


def settle(world, ctx, call_id, cost, tokens=(10, 20), target_ref="acme/m1"):
    ctx.calls = [CallRecord(id=call_id, kind="llm", target=target_ref, status="ok", cost=cost,
                            usage={"prompt_tokens": tokens[0], "completion_tokens": tokens[1]})]
    with world.sessions.begin() as s:
        ledger.settle(s, world.owner.id, world.workflow_id, ctx)


def test_the_worst_case_is_the_prompt_and_the_most_the_model_may_answer(world):
    world.provider(models={"m1": (0.5, 1.5), "m2": (None, 1.5)})
    m1 = target(world)
    assert ledger.worst_case(m1, ASK) == ledger.cost_of(math.ceil(len('[[{"role": "user", "content": "' + "x" * 300
                                                                       + '"}], [], null]') / 3), 1000, m1)
    unbounded = Request([{"role": "user", "content": "hi"}], {})
    assert ledger.worst_case(m1, unbounded) == ledger.cost_of(16, DEFAULT_MAX_TOKENS, m1)   # 47 characters
    assert ledger.worst_case(target(world, "acme/m2"), ASK) is None       # no price: nothing to reserve


def test_a_reservation_counts_while_its_step_runs_that_attempt_and_turn(world):
    world.provider()
    budget(world, Decimal(1))
    assert left(world) == 1
    ctx = running_step(world)
    reserve(world, ctx)
    worst = ledger.worst_case(target(world), ASK)
    assert left(world) == 1 - worst
    with world.sessions.begin() as s:      # its worker was lost: the step runs the next attempt
        s.execute(update(ExecutionStep).values(attempt=2))
    assert left(world) == 1


def test_settling_replaces_the_reservation_with_the_real_cost(world):
    world.provider()
    budget(world, Decimal(1))
    ctx = running_step(world)
    call_id = reserve(world, ctx)
    settle(world, ctx, call_id, 0.25)
    settle(world, ctx, call_id, 0.25)                                    # keyed by the call: once
    assert left(world) == Decimal("0.75")
    with world.sessions() as s:
        entry = s.get(LedgerEntry, call_id)
        assert (entry.cost, entry.prompt_tokens, entry.completion_tokens, entry.settled_at is not None) == \
            (Decimal("0.25"), 10, 20, True)


def test_a_spent_budget_refuses_the_request_before_it_is_sent(world):
    world.provider()
    budget(world, Decimal("0.5"))
    ctx = running_step(world)
    settle(world, ctx, uuid.uuid4(), 0.5)                                # a call with no reservation settles too
    with pytest.raises(NodeError, match=r"^budget_exceeded: .*\(0\.5\)") as refused:
        reserve(world, running_step(world, "other"))
    assert refused.value.retryable is False
    with world.sessions() as s:
        assert len(s.scalars(select(LedgerEntry)).all()) == 1              # the refused request left no row


def test_concurrent_requests_pass_the_budget_by_at_most_one_worst_case(world):
    world.provider()
    worst = ledger.worst_case(target(world), ASK)
    limit = worst * Decimal("3.5")
    budget(world, limit)
    contexts = [running_step(world, f"n{i}") for i in range(20)]
    admitted, waiting, start = [], [], threading.Barrier(20)

    def ask(ctx):
        start.wait()
        try:
            admitted.append(reserve(world, ctx))
        except ledger.BudgetBusy:
            waiting.append(ctx)

    threads = [threading.Thread(target=ask, args=(ctx,)) for ctx in contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert (len(admitted), len(waiting)) == (4, 16)                      # 3 fit, the 4th passes by less than one
    assert worst * len(admitted) < limit + worst
    for call_id in admitted:                                             # settled at a fifth of their worst case
        settle(world, contexts[0], call_id, worst / 5)
    assert reserve(world, waiting[0])                                    # room again for the ones that waited
    with pytest.raises(NodeError, match="^budget_exceeded"):             # spent: the rest is refused for good
        settle(world, contexts[0], uuid.uuid4(), limit)
        reserve(world, waiting[1])


def test_a_model_without_a_price_reserves_nothing_and_is_refused_once_the_budget_is_spent(world):
    world.provider(models={"m2": (None, None)})
    budget(world, Decimal("0.1"))
    call_id = reserve(world, running_step(world), ref="acme/m2")
    with world.sessions() as s:
        assert s.get(LedgerEntry, call_id).reserved is None
    assert left(world) == Decimal("0.1")
    settle(world, running_step(world, "paid"), uuid.uuid4(), 0.1)
    with pytest.raises(NodeError, match="^budget_exceeded"):
        reserve(world, running_step(world, "late"), ref="acme/m2")


def test_usage_sums_the_ledger_and_the_rolled_up_days_and_the_roll_up_moves_finished_days(world):
    world.provider()
    now = datetime.now(timezone.utc)
    today, old = now.date(), now.date() - timedelta(days=3)
    ctx = running_step(world)
    for day, cost in ((old, 0.5), (old, 0.25), (today, 1.0)):
        call_id = uuid.uuid4()
        settle(world, ctx, call_id, cost)
        with world.sessions.begin() as s:
            s.execute(update(LedgerEntry).where(LedgerEntry.id == call_id).values(day=day))
    never_settled = reserve(world, ctx)
    with world.sessions.begin() as s:
        s.execute(update(LedgerEntry).where(LedgerEntry.id == never_settled).values(day=old))

    def by_day():
        with world.sessions() as s:
            return [(r["day"], r["requests"], r["prompt_tokens"], r["cost"]) for r in
                    usage.usage(s, s.merge(world.owner), old, today).items]

    expected = [(old, 2, 20, Decimal("0.75")), (today, 1, 10, Decimal("1.0"))]
    assert by_day() == expected
    assert ledger.roll_up(world.sessions) is False                       # one batch held everything
    with world.sessions() as s:
        assert [e.day for e in s.scalars(select(LedgerEntry))] == [today]
        [metric] = s.scalars(select(UsageMetric)).all()
        assert (metric.day, metric.requests, metric.prompt_tokens, metric.completion_tokens, metric.cost) == \
            (old, 2, 20, 40, Decimal("0.75"))
    assert by_day() == expected                                           # the same sums, from two places
    assert ledger.roll_up(world.sessions) is False                       # nothing left: nothing added twice
    assert by_day() == expected
