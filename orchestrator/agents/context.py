"""The ``context_read`` and ``context_write`` built-in tools: an agent reads and writes the
execution's shared contexts, limited to the namespaces its node declares. A write is made
with the commit of the turn that asked for it."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from orchestrator.db import SharedContext
from orchestrator.nodes.base import NodeContext

READ, WRITE = "context_read", "context_write"


def functions(read: list[str], write: str | None) -> list[dict[str, Any]]:
    """The built-in tools offered to the model for these namespaces (none when none declared)."""
    offered = []
    if read:
        offered.append({"name": READ, "description": f"Read a shared context of this run: one of {', '.join(read)}",
                        "parameters": {"type": "object", "required": ["namespace"],
                                       "properties": {"namespace": {"type": "string", "enum": read}}}})
    if write:
        offered.append({"name": WRITE, "description": f"Write to the shared context {write!r} of this run "
                                                      f"(merge adds keys, replace replaces it)",
                        "parameters": {"type": "object", "required": ["value"],
                                       "properties": {"value": {"type": "object"},
                                                      "mode": {"type": "string", "enum": ["merge", "replace"]}}}})
    return offered


def run(ctx: NodeContext, name: str, arguments: dict[str, Any], read: list[str], write: str | None) -> Any:
    """The result for the model; ValueError (told to the model) for an undeclared namespace."""
    execution_id = uuid.UUID(str(ctx.execution_id))
    if name == READ:
        namespace = arguments.get("namespace")
        if namespace not in read:
            raise ValueError(f"namespace {namespace!r} is not one this agent may read ({', '.join(read) or 'none'})")
        with ctx.services.sessions() as session:
            return session.scalar(select(SharedContext.data).where(SharedContext.execution_id == execution_id,
                                                                   SharedContext.namespace == namespace))
    if not write:
        raise ValueError("this agent may not write a shared context")
    ctx.write_context(write, arguments.get("value"), arguments.get("mode", "merge"))    # with the turn's commit
    return {"written": write}
