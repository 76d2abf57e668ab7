"""Per-owner limits (DESIGN section 13): setting them, and executions per minute, counted in
usage_counters (a submission over the rate is refused with the seconds until the next
minute). The LLM cost per day is kept by the ledger of model requests
(``orchestrator.llm.ledger``)."""
from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from orchestrator import metrics
from orchestrator.db import UsageCounter, User
from orchestrator.db.types import utcnow
from orchestrator.services.errors import Forbidden, NotFound, RateLimited
from orchestrator.states import UsageKind

MINUTE = timedelta(minutes=1)


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
    """Count a submission against ``owner``'s max_executions_per_minute; RateLimited past it.
    Call it last in the submitting transaction (a refused one is not counted): the minute's
    row is then locked only for the commit, and no transaction that holds an execution's lock
    ever takes it, so submissions cannot deadlock on it."""
    limit = owner.max_executions_per_minute
    if limit is None:
        return
    now = now or utcnow()
    minute = now.replace(second=0, microsecond=0)
    if _add(session, owner.id, UsageKind.EXECUTIONS, minute, Decimal(1)) > limit:
        metrics.EXECUTIONS_RATE_LIMITED.inc()
        raise RateLimited(f"over the limit of {limit} executions per minute",
                          retry_after=max(1, math.ceil((minute + MINUTE - now).total_seconds())))
