"""Building the engine the way every process uses it: the one place that lists the
transition hooks. The API app factory, the worker, beat and the CLI call ``build_engine``."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from orchestrator import metrics
from orchestrator.config import Settings
from orchestrator.crypto import KeyRing, load_keyring
from orchestrator.engine import Dispatcher, Engine, Transaction
from orchestrator.engine.sql import Row
from orchestrator.llm import account
from orchestrator.nodes.base import NodeContext, NodeError
from orchestrator.nodes.registry import node_types
from orchestrator.schedules.bookkeeping import on_execution_ended
from orchestrator.services import audit, limits
from orchestrator.services.artifacts import store_artifacts
from orchestrator.services.children import cancel_children, finish_child, start_children


@dataclass(frozen=True)
class NodeServices:
    """What node types that need the database (the LLM and agent layers) get as ``ctx.services``."""

    sessions: sessionmaker[Session]
    keyring: KeyRing
    settings: Settings

    def check_budget(self, owner_id: uuid.UUID) -> None:
        """Before a model call: ``budget_exceeded`` (no retry) once the owner's
        max_llm_cost_per_day is spent for today."""
        with self.sessions() as session:
            try:
                limits.check_budget(session, owner_id)
            except limits.BudgetExceeded as exc:
                raise NodeError(exc.message, retryable=False) from None


def account_turn(txn: Transaction, step: Row, ctx: NodeContext, output: Any) -> None:
    """Usage metrics, structured outputs and memory of a turn's model calls, and their cost
    against the owner's daily budget, in the turn's commit."""
    account(txn.session, txn.engine.keyring, ctx, output)
    costs = [Decimal(str(c.cost)) for c in ctx.calls if c.kind == "llm" and c.cost is not None]
    if costs:
        limits.add_llm_cost(txn.session, txn.execution.owner_id, sum(costs, Decimal(0)))


def count_execution_end(txn: Transaction) -> None:
    """Executions ended, by status, and how long they took (Prometheus)."""
    metrics.execution_ended(txn.execution.status, (txn.execution.duration_ms or 0) / 1000
                            if txn.execution.duration_ms is not None else None)


def audit_change(txn: Transaction) -> None:
    """The audit entry of a change a person asked for (cancel, approve...), in its transaction."""
    audit.write_pending(txn.session)


def build_engine(settings: Settings, dispatcher: Dispatcher, sessions: sessionmaker[Session] | None = None,
                 keyring: KeyRing | None = None) -> Engine:
    engine = Engine(settings, keyring or load_keyring(settings), dispatcher, sessions)
    engine.hooks.execution_ended += [on_execution_ended, finish_child, cancel_children, count_execution_end]
    engine.hooks.suspended.append(start_children)
    engine.hooks.turn_recorded += [account_turn, store_artifacts]
    engine.hooks.committing.append(audit_change)
    engine.services = NodeServices(engine.sessions, engine.keyring, settings)
    # Load the node-type plugins now (the model SDKs take seconds to import), not after a step
    # is claimed, when the import would run down its lease and the step be taken for lost.
    node_types()
    return engine
