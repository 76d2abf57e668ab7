"""Reading what model calls left: an execution's calls and structured outputs, and usage
summed over days, models, workflows or days and models."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orchestrator.db import Execution, StepCall, StructuredOutput, User, Workflow
from orchestrator.db.types import utcnow
from orchestrator.llm import ledger
from orchestrator.services.errors import Invalid, owned
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, paginate

GROUPS = ("day", "model", "workflow", "day_model")
DEFAULT_DAYS = 30


def list_calls(session: Session, owner: User, execution_id: uuid.UUID, *, cursor: str | None = None,
               limit: int = DEFAULT_LIMIT) -> Page[StepCall]:
    execution = owned(session, Execution, execution_id, owner, "execution")
    return paginate(session, select(StepCall).where(StepCall.execution_id == execution.id), StepCall, cursor, limit)


def list_structured_outputs(session: Session, owner: User, execution_id: uuid.UUID, *, cursor: str | None = None,
                            limit: int = DEFAULT_LIMIT) -> Page[StructuredOutput]:
    execution = owned(session, Execution, execution_id, owner, "execution")
    return paginate(session, select(StructuredOutput).where(StructuredOutput.execution_id == execution.id),
                    StructuredOutput, cursor, limit)


def window(start: date | None, end: date | None) -> tuple[date, date]:
    """The days a usage query covers: ``end`` defaults to today (UTC), ``start`` to
    ``DEFAULT_DAYS`` days ending at ``end``."""
    end = end or utcnow().date()
    if start is None and end.toordinal() < DEFAULT_DAYS:
        raise Invalid(f"to is too early: no {DEFAULT_DAYS} days end on it", {"to": ["too early"]})
    return start or end - timedelta(days=DEFAULT_DAYS - 1), end


def usage(session: Session, owner: User, start: date, end: date, group_by: str = "day", *,
          provider: str | None = None, model: str | None = None) -> Page[dict[str, Any]]:
    """Requests, tokens and cost from ``start`` to ``end`` (days, UTC, both included), of one
    provider's calls and/or one model id's when given: the settled requests of the ledger and
    the days rolled up from it, summed."""
    if start > end:
        raise Invalid("from is after to", {"from": ["must not be after to"]})
    rows = ledger.requests_between(owner.id, start, end)
    keys = {"day": [rows.c.day],
            "model": [rows.c.provider, rows.c.model],
            "workflow": [rows.c.workflow_id, Workflow.name.label("workflow_name")],
            "day_model": [rows.c.day, rows.c.provider, rows.c.model]}[group_by]
    narrowed = [column == value for column, value in ((rows.c.provider, provider), (rows.c.model, model))
                if value is not None]
    query = (select(*keys, func.sum(rows.c.requests).label("requests"),
                    func.sum(rows.c.prompt_tokens).label("prompt_tokens"),
                    func.sum(rows.c.completion_tokens).label("completion_tokens"),
                    func.sum(rows.c.cost).label("cost"))
             .join(Workflow, Workflow.id == rows.c.workflow_id)
             .where(*narrowed)
             .group_by(*keys).order_by(*keys))
    items = []
    for row in session.execute(query):
        item = dict(row._mapping)
        item["total_tokens"] = item["prompt_tokens"] + item["completion_tokens"]
        items.append(item)
    return Page(items)
