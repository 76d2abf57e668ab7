"""Per-owner limits (DESIGN section 13), counted in usage_counters: executions per minute
(a submission over the rate is refused with the seconds until the next minute) and LLM
cost per day (``check_budget`` before a model call, ``add_llm_cost`` in the commit of the
turn that made it; see ``orchestrator.composition``)."""
from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from orchestrator import metrics
from orchestrator.db import UsageCounter, User
from orchestrator.db.types import utcnow
from orchestrator.services.errors import DomainError, Forbidden, NotFound, RateLimited
from orchestrator.states import UsageKind

MINUTE = timedelta(minutes=1)


class BudgetExceeded(DomainError):
    """The owner's LLM budget for the day is spent; the step fails with this message."""


def set_limits(session: Session, admin: User, user_id: uuid.UUID, *, max_executions_per_minute: int | None,
               max_llm_cost_per_day: Decimal | float | None) -> User:
    """An admin sets (or, with None, lifts) a user's limits."""
    if not admin.is_admin:
        raise Forbidden("only an admin sets limits")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    user.max_executions_per_minute = max_executions_per_minute
    user.max_llm_cost_per_day = None if max_llm_cost_per_day is None else Decimal(str(max_llm_cost_per_day))
    return user


def _add(session: Session, user_id: uuid.UUID, kind: UsageKind, period_start: datetime, amount: Decimal) -> Decimal:
    """Add ``amount`` to the owner's usage of ``kind`` in the period; returns the new total.
    One statement (insert or add), so concurrent callers queue on the row."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(UsageCounter).values(id=uuid.uuid4(), user_id=user_id, metric=kind.value,
                                                period_start=period_start, value=amount)
    return session.scalar(insert.on_conflict_do_update(
        index_elements=["user_id", "metric", "period_start"], set_={"value": UsageCounter.value + insert.excluded.value},
    ).returning(UsageCounter.value))


def take_execution_slot(session: Session, owner: User, now: datetime | None = None) -> None:
    """Count a submission against ``owner``'s max_executions_per_minute (in the submitting
    transaction, so a refused one is not counted); RateLimited past it."""
    limit = owner.max_executions_per_minute
    if limit is None:
        return
    now = now or utcnow()
    minute = now.replace(second=0, microsecond=0)
    if _add(session, owner.id, UsageKind.EXECUTIONS, minute, Decimal(1)) > limit:
        metrics.EXECUTIONS_RATE_LIMITED.inc()
        raise RateLimited(f"over the limit of {limit} executions per minute",
                          retry_after=max(1, math.ceil((minute + MINUTE - now).total_seconds())))


def _today(now: datetime | None) -> datetime:
    return (now or utcnow()).replace(hour=0, minute=0, second=0, microsecond=0)


def add_llm_cost(session: Session, owner_id: uuid.UUID, cost: Decimal, now: datetime | None = None) -> Decimal:
    """Add an LLM call's cost to the owner's day; returns the day's total."""
    return _add(session, owner_id, UsageKind.LLM_COST, _today(now), cost)


def budget_left(session: Session, owner_id: uuid.UUID, now: datetime | None = None) -> Decimal | None:
    """What the owner may still spend on LLM calls today (<= 0: a call fails its step with
    ``budget_exceeded``); None when no limit is set."""
    limit = session.scalar(select(User.max_llm_cost_per_day).where(User.id == owner_id))
    if limit is None:
        return None
    spent = session.scalar(select(UsageCounter.value).where(
        UsageCounter.user_id == owner_id, UsageCounter.metric == UsageKind.LLM_COST, UsageCounter.period_start == _today(now)))
    return limit - (spent or Decimal(0))


def check_budget(session: Session, owner_id: uuid.UUID, now: datetime | None = None) -> None:
    """BudgetExceeded (``budget_exceeded: ...``) when the owner's LLM budget for today is spent."""
    left = budget_left(session, owner_id, now)
    if left is not None and left <= 0:
        raise BudgetExceeded("budget_exceeded: the owner's max_llm_cost_per_day is spent for today")
