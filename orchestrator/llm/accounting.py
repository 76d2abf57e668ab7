"""What the calls of a turn leave behind, written in the transaction that commits the turn:
usage summed into ``usage_metrics``; for an ``llm`` node, its ``structured_outputs`` row and,
on completion, the new pair of its memory. (The engine writes the calls themselves as
``step_calls`` rows and sums them into the execution's ``total_tokens`` and ``total_cost``.)"""
from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing
from orchestrator.db import Execution, StructuredOutput, UsageMetric
from orchestrator.db.types import utcnow
from orchestrator.llm.memory import remember
from orchestrator.nodes.base import NodeContext


def _insert(session: Session, model: Any) -> Any:
    """INSERT ... ON CONFLICT for the session's database (the one dialect seam)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def account(session: Session, keyring: KeyRing, ctx: NodeContext, output: Any = None) -> None:
    """Call in the transaction that commits a turn of ``ctx``'s step, with the same ``ctx.calls``
    that become its ``step_calls`` rows: at a ``Continue``, at completion (``output`` given)
    and at failure. Writes nothing when the turn made no call."""
    if not ctx.calls:
        return
    execution_id = uuid.UUID(str(ctx.execution_id))
    execution = session.execute(select(Execution.owner_id, Execution.workflow_id)
                                .where(Execution.id == execution_id)).one()
    _sum_usage(session, execution_id, execution.owner_id, execution.workflow_id, ctx)
    llm_calls = [c for c in ctx.calls if c.kind == "llm"]
    last = (llm_calls[-1].meta or {}) if llm_calls else {}
    if "structured" in last:
        _structured(session, execution_id, ctx, last["structured"], output)
    if output is not None and last.get("remember"):
        memory = ctx.config["memory"]
        remember(session, keyring, execution.workflow_id, execution_id, ctx.node_id, memory["key"],
                 _question(ctx.config), output["text"])


def _sum_usage(session: Session, execution_id: uuid.UUID, owner_id: uuid.UUID, workflow_id: uuid.UUID,
               ctx: NodeContext) -> None:
    per_model: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": None})
    for call in ctx.calls:
        usage = call.usage or {}
        if call.kind == "llm":
            provider, _, model = call.target.partition("/")
            row = per_model[(provider, model)]
            row["requests"] += 1
            row["prompt_tokens"] += usage.get("prompt_tokens", 0)
            row["completion_tokens"] += usage.get("completion_tokens", 0)
            if call.cost is not None:
                row["cost"] = (row["cost"] or Decimal(0)) + Decimal(str(call.cost))
    day, now = utcnow().date(), utcnow()
    for (provider, model), row in per_model.items():
        insert = _insert(session, UsageMetric).values(
            id=uuid.uuid4(), day=day, owner_id=owner_id, workflow_id=workflow_id, provider=provider, model=model,
            updated_at=now, **row)
        table = UsageMetric.__table__.c
        session.execute(insert.on_conflict_do_update(
            index_elements=["owner_id", "day", "workflow_id", "provider", "model"],
            set_={"requests": table.requests + insert.excluded.requests,
                  "prompt_tokens": table.prompt_tokens + insert.excluded.prompt_tokens,
                  "completion_tokens": table.completion_tokens + insert.excluded.completion_tokens,
                  "cost": case((insert.excluded.cost.is_(None), table.cost),
                               else_=func.coalesce(table.cost, 0) + insert.excluded.cost),
                  "updated_at": now}))


def _structured(session: Session, execution_id: uuid.UUID, ctx: NodeContext, verdict: dict[str, Any],
                output: Any) -> None:
    """The node's structured answer: the output's when it completed, else the last (invalid) one."""
    data = output["structured"] if output is not None and verdict["valid"] else verdict["data"]
    values = {"output_schema": ctx.config["output_schema"], "structured_data": data,
              "schema_valid": verdict["valid"], "validation_errors": verdict["errors"] or None}
    insert = _insert(session, StructuredOutput).values(id=uuid.uuid4(), execution_id=execution_id,
                                                       node_id=ctx.node_id, created_at=utcnow(), **values)
    session.execute(insert.on_conflict_do_update(index_elements=["execution_id", "node_id"], set_=values))


def _question(config: dict[str, Any]) -> str:
    if config.get("prompt"):
        return config["prompt"]
    return next(m["content"] for m in reversed(config["messages"]) if m["role"] == "user")
