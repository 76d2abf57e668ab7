"""Transition hooks: what code outside the engine does when an execution or a step moves.

Each hook is a named function registered at a composition root (the API app factory, the
worker, beat, the CLI) and run inside the transaction that makes the move, so its writes
commit or roll back with it. The engine imports none of them (DESIGN section 10).

- ``execution_ended(txn)``: the execution reached a terminal status (``txn.execution``).
- ``suspended(txn, step, suspend) -> bool``: a node returned a ``Suspend`` the engine does
  not handle itself (a child execution); True when the hook took it.
- ``turn_recorded(txn, step, ctx, output)``: a turn of a node ended (completed, continued,
  suspended or failed) and its calls and messages are written; ``output`` when it completed.
  Usage accounting and an LLM node's memory hang here.
- ``approval_requested(txn, step, approval_id)``: a step now waits for a human decision
  (its ``human_approvals`` row is written); outbound notifications hang here.
- ``committing(txn)``: the transaction is about to be written and committed (an audit entry
  for the change a person asked for is written here).
- ``maintenance(engine) -> bool``: housekeeping the sweeper runs about once an hour, with its
  pruning, in transactions of its own (the LLM ledger's roll-up); True when more is left.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from orchestrator.engine.core import Engine
    from orchestrator.engine.sql import Row
    from orchestrator.engine.transaction import Transaction
    from orchestrator.nodes.base import NodeContext, Suspend


@dataclass
class Hooks:
    execution_ended: list[Callable[["Transaction"], None]] = field(default_factory=list)
    suspended: list[Callable[["Transaction", "Row", "Suspend"], bool]] = field(default_factory=list)
    turn_recorded: list[Callable[["Transaction", "Row", "NodeContext", Any], None]] = field(default_factory=list)
    approval_requested: list[Callable[["Transaction", "Row", uuid.UUID], None]] = field(default_factory=list)
    committing: list[Callable[["Transaction"], None]] = field(default_factory=list)
    maintenance: list[Callable[["Engine"], bool]] = field(default_factory=list)
