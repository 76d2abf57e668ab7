"""What the calls of a turn leave behind, written in the transaction that commits the turn:
each model call settled in the ledger (``ledger.settle``: its real usage and cost, keyed by
the call, on its own row, so no two executions wait on each other); for an ``llm`` node, its
``structured_outputs`` row and, on completion, the new pair of its memory. (The engine writes
the calls themselves as ``step_calls`` rows and sums them into the execution's
``total_tokens`` and ``total_cost``.)"""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing
from orchestrator.db import Execution, StructuredOutput
from orchestrator.db.types import utcnow
from orchestrator.llm import ledger
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
    ledger.settle(session, execution.owner_id, execution.workflow_id, ctx)
    llm_calls = [c for c in ctx.calls if c.kind == "llm"]
    last = (llm_calls[-1].meta or {}) if llm_calls else {}
    if "structured" in last:
        _structured(session, execution_id, ctx, last["structured"], output)
    if output is not None and last.get("remember"):
        memory = ctx.config["memory"]
        remember(session, keyring, execution.workflow_id, execution_id, ctx.node_id, memory["key"],
                 _question(ctx.config), output["text"])


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
