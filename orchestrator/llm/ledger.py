"""The ledger of model requests (``llm_ledger``, DESIGN sections 13 and 14): the one choke
point every model request passes before it is sent (``reserve``), its settlement in the
commit of the turn that made it (``settle``), and what is summed from it: the owner's spend
today (``budget_left``) and, with the days rolled up into ``usage_metrics`` (``roll_up``),
what ``GET /usage`` shows.

The budget: a request is sent only while what the owner spent today plus what the requests
still in flight reserved is below ``max_llm_cost_per_day``; it then reserves its own worst
case. So the day's spend passes the budget by at most one request's worst case (its prompt
is estimated, at one token per three characters). Once the spend alone reaches the budget, a
request fails its step with ``budget_exceeded``; while only reservations in flight stand in
the way, it waits for them (``BudgetBusy``: the turn is parked a second, holding no worker).
The reservations of one owner are taken one at a time (PostgreSQL: an advisory lock per
owner; SQLite serialises writers anyway), in a short transaction that holds no other lock:
it never waits for an execution, and no execution ever waits for it. A reservation counts while its step runs the attempt and turn
that took it: a worker that dies, an attempt that times out or a turn that moves on without
settling it (its result discarded) releases it, with nothing to clean up.
"""
from __future__ import annotations

import json
import math
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.db import ExecutionStep, LedgerEntry, UsageMetric, User
from orchestrator.db.types import utcnow
from orchestrator.llm.protocol import DEFAULT_MAX_TOKENS, Request, max_tokens
from orchestrator.llm.resolution import Target
from orchestrator.nodes.base import CallRecord, NodeContext, NodeError
from orchestrator.states import StepStatus

CHARS_PER_TOKEN = 3
ROLL_UP_BATCH = 5000


class BudgetBusy(Exception):
    """What is left of the day's budget is reserved by requests in flight: try again once they
    are settled."""


def cost_of(prompt_tokens: int, completion_tokens: int, target: Target) -> Decimal | None:
    """Prices are per 1,000 tokens; None (never 0) when one is unknown."""
    if target.input_price is None or target.output_price is None:
        return None
    return Decimal(prompt_tokens) / 1000 * target.input_price + Decimal(completion_tokens) / 1000 * target.output_price


def worst_case(target: Target, request: Request) -> Decimal | None:
    """The most ``request`` may cost: its prompt (estimated) and the most tokens it may answer
    (the limit in force: ``max_tokens``, else the model's ``max_output_tokens``; else, as an
    estimate where the provider's own default applies, ``DEFAULT_MAX_TOKENS``)."""
    answer = max_tokens(target, request) or DEFAULT_MAX_TOKENS
    sent = json.dumps([request.messages, request.tools, request.output_schema], default=str)
    return cost_of(math.ceil(len(sent) / CHARS_PER_TOKEN), int(answer), target)


def _today(now: datetime | None = None) -> date:
    return (now or utcnow()).date()


def reserve(session: Session, ctx: NodeContext, target: Target, request: Request, call_id: uuid.UUID) -> None:
    """Before a request is sent, in ``session``'s short transaction (which takes the request's
    credential next, and holds nothing else): its ledger row, holding its worst case.
    ``budget_exceeded`` (a ``NodeError`` no retry can fix) when the owner's budget for today is
    spent; ``BudgetBusy`` when what is left is reserved by requests in flight."""
    owner_id = uuid.UUID(str(ctx.owner_id))
    limit = session.scalar(select(User.max_llm_cost_per_day).where(User.id == owner_id))
    if limit is not None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(owner_id)})
        spent, in_flight = _spent(session, owner_id, _today())
        if spent >= limit:
            raise NodeError(f"budget_exceeded: the owner's max_llm_cost_per_day ({limit.normalize():f}) is spent "
                            "for today", retryable=False)
        if spent + in_flight >= limit:
            raise BudgetBusy(f"the rest of the day's budget is reserved by {target.ref} requests in flight; "
                             "waiting for them to settle")
    session.execute(insert(LedgerEntry).values(
        id=call_id, owner_id=owner_id, day=_today(), workflow_id=uuid.UUID(str(ctx.workflow_id)),
        execution_id=uuid.UUID(str(ctx.execution_id)), node_id=ctx.node_id, attempt=ctx.attempt, turn=ctx.turn,
        provider=target.provider, model=target.model_id, reserved=worst_case(target, request),
        prompt_tokens=0, completion_tokens=0, created_at=utcnow()))


def _lock_key(owner_id: uuid.UUID) -> int:
    """The owner's advisory lock: a signed 64-bit number from its id."""
    return int.from_bytes(owner_id.bytes[:8], "big", signed=True)


def _spent(session: Session, owner_id: uuid.UUID, day: date) -> tuple[Decimal, Decimal]:
    """Spent on ``day`` (rolled up and settled), and what requests in flight reserved."""
    rolled = select(func.coalesce(func.sum(UsageMetric.cost), 0)).where(
        UsageMetric.owner_id == owner_id, UsageMetric.day == day).scalar_subquery()
    settled = select(func.coalesce(func.sum(LedgerEntry.cost), 0)).where(
        LedgerEntry.owner_id == owner_id, LedgerEntry.day == day, LedgerEntry.settled_at.is_not(None)).scalar_subquery()
    in_flight = select(func.coalesce(func.sum(LedgerEntry.reserved), 0)).join(ExecutionStep, and_(
        ExecutionStep.execution_id == LedgerEntry.execution_id, ExecutionStep.node_id == LedgerEntry.node_id,
        ExecutionStep.status == StepStatus.RUNNING.value, ExecutionStep.attempt == LedgerEntry.attempt,
        ExecutionStep.turn == LedgerEntry.turn,
    )).where(LedgerEntry.owner_id == owner_id, LedgerEntry.settled_at.is_(None)).scalar_subquery()
    spent, reserved = session.execute(select(rolled + settled, in_flight)).one()
    return Decimal(str(spent)), Decimal(str(reserved))


def budget_left(session: Session, owner_id: uuid.UUID, now: datetime | None = None) -> Decimal | None:
    """What the owner may still spend on models today, requests in flight counted at their
    worst case (<= 0: the next request waits for those, or fails its step with
    ``budget_exceeded`` once nothing is in flight); None when no limit is set."""
    limit = session.scalar(select(User.max_llm_cost_per_day).where(User.id == owner_id))
    return None if limit is None else limit - sum(_spent(session, owner_id, _today(now)))


def settle(session: Session, owner_id: uuid.UUID, workflow_id: uuid.UUID, ctx: NodeContext) -> None:
    """In the commit of the turn that made them: each model call of ``ctx`` settled, its real
    usage and cost replacing its reservation. Keyed by the call, so it is safe to repeat;
    a call whose reservation is missing gets its row here."""
    now = utcnow()
    rows = [_settled(call, owner_id, workflow_id, ctx, now) for call in ctx.calls if call.kind == "llm"]
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(LedgerEntry)
    session.execute(upsert.on_conflict_do_update(index_elements=["id"], set_={
        name: upsert.excluded[name] for name in ("settled_at", "prompt_tokens", "completion_tokens", "cost")}), rows)


def _settled(call: CallRecord, owner_id: uuid.UUID, workflow_id: uuid.UUID, ctx: NodeContext,
             now: datetime) -> dict[str, Any]:
    provider, _, model = call.target.partition("/")
    usage = call.usage or {}
    return {"id": call.id, "owner_id": owner_id, "day": _today(now), "workflow_id": workflow_id,
            "execution_id": uuid.UUID(str(ctx.execution_id)), "node_id": ctx.node_id, "attempt": ctx.attempt,
            "turn": ctx.turn, "provider": provider, "model": model, "reserved": None, "settled_at": now,
            "prompt_tokens": usage.get("prompt_tokens") or 0, "completion_tokens": usage.get("completion_tokens") or 0,
            "cost": None if call.cost is None else Decimal(str(call.cost)), "created_at": now}


def requests_between(owner_id: uuid.UUID, start: date, end: date):
    """The owner's settled requests of days ``start`` to ``end`` and the days already rolled up,
    as one set of rows (day, workflow_id, provider, model, requests, prompt_tokens,
    completion_tokens, cost) to sum: what ``GET /usage`` reads."""
    ledger = select(LedgerEntry.day, LedgerEntry.workflow_id, LedgerEntry.provider, LedgerEntry.model,
                    literal(1).label("requests"), LedgerEntry.prompt_tokens, LedgerEntry.completion_tokens,
                    LedgerEntry.cost).where(LedgerEntry.owner_id == owner_id, LedgerEntry.settled_at.is_not(None),
                                            LedgerEntry.day >= start, LedgerEntry.day <= end)
    rolled = select(UsageMetric.day, UsageMetric.workflow_id, UsageMetric.provider, UsageMetric.model,
                    UsageMetric.requests, UsageMetric.prompt_tokens, UsageMetric.completion_tokens,
                    UsageMetric.cost).where(UsageMetric.owner_id == owner_id, UsageMetric.day >= start,
                                            UsageMetric.day <= end)
    return ledger.union_all(rolled).subquery("requests")


def roll_up(sessions: sessionmaker[Session], now: datetime | None = None) -> bool:
    """Sum the settled rows of the days before yesterday (no request of theirs is still in
    flight) into ``usage_metrics`` and delete them, with those never settled (their requests
    ended with no turn to record them), at most ``ROLL_UP_BATCH`` rows; True when more are
    left. Several sweepers may run it at once: on PostgreSQL each takes rows no other holds,
    and the sums are added in one order."""
    before = _today(now) - timedelta(days=1)
    with sessions.begin() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        batch = select(LedgerEntry.id).where(LedgerEntry.day < before).limit(ROLL_UP_BATCH)
        ids = session.scalars(batch.with_for_update(skip_locked=True) if postgres else batch).all()
        if not ids:
            return False
        gone = session.execute(delete(LedgerEntry).where(LedgerEntry.id.in_(ids)).returning(
            LedgerEntry.owner_id, LedgerEntry.day, LedgerEntry.workflow_id, LedgerEntry.provider, LedgerEntry.model,
            LedgerEntry.settled_at, LedgerEntry.prompt_tokens, LedgerEntry.completion_tokens, LedgerEntry.cost)).all()
        sums: dict[tuple, dict[str, Any]] = defaultdict(
            lambda: {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": None})
        for row in gone:
            if row.settled_at is None:
                continue
            total = sums[(row.owner_id, row.day, row.workflow_id, row.provider, row.model)]
            total["requests"] += 1
            total["prompt_tokens"] += row.prompt_tokens
            total["completion_tokens"] += row.completion_tokens
            if row.cost is not None:
                total["cost"] = (total["cost"] or Decimal(0)) + row.cost
        for key in sorted(sums, key=str):
            _add_usage(session, postgres, key, sums[key])
    return len(ids) == ROLL_UP_BATCH


def _add_usage(session: Session, postgres: bool, key: tuple, total: dict[str, Any]) -> None:
    owner_id, day, workflow_id, provider, model = key
    upsert = (postgresql if postgres else sqlite).insert(UsageMetric).values(
        id=uuid.uuid4(), owner_id=owner_id, day=day, workflow_id=workflow_id, provider=provider, model=model,
        updated_at=utcnow(), **total)
    table = UsageMetric.__table__.c
    session.execute(upsert.on_conflict_do_update(
        index_elements=["owner_id", "day", "workflow_id", "provider", "model"],
        set_={"requests": table.requests + upsert.excluded.requests,
              "prompt_tokens": table.prompt_tokens + upsert.excluded.prompt_tokens,
              "completion_tokens": table.completion_tokens + upsert.excluded.completion_tokens,
              "cost": func.coalesce(table.cost, 0) + upsert.excluded.cost
              if total["cost"] is not None else table.cost,
              "updated_at": upsert.excluded.updated_at}))
