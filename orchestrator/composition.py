"""Building the engine the way every process uses it: the one place that lists the
transition hooks. The API app factory, the worker, beat and the CLI call ``build_engine``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from orchestrator import metrics
from orchestrator.config import Settings
from orchestrator.crypto import KeyRing, load_keyring
from orchestrator.engine import Dispatcher, Engine, Transaction
from orchestrator.engine.sql import Row
from orchestrator.llm import account, ledger
from orchestrator.nodes.base import NodeContext
from orchestrator.nodes.registry import node_types
from orchestrator.schedules.bookkeeping import on_execution_ended
from orchestrator.services import audit, notifications
from orchestrator.services.artifacts import store_artifacts
from orchestrator.services.children import cancel_children, finish_child, start_children


@dataclass(frozen=True)
class NodeServices:
    """What node types that need the database (the LLM and agent layers) get as ``ctx.services``."""

    sessions: sessionmaker[Session]
    keyring: KeyRing
    settings: Settings


def account_turn(txn: Transaction, step: Row, ctx: NodeContext, output: Any) -> None:
    """A turn's model calls settled in the ledger, with its structured output and memory, in
    the turn's commit."""
    account(txn.session, txn.engine.keyring, ctx, output)


def roll_up_usage(engine: Engine) -> bool:
    """Finished days of the LLM ledger summed into usage_metrics (see ``ledger.roll_up``)."""
    return ledger.roll_up(engine.sessions)


def count_execution_end(txn: Transaction) -> None:
    """Executions ended, by status, and how long they took (Prometheus), once the end is
    committed (a transaction run again after a deadlock counts once)."""
    status, duration_ms = txn.execution.status, txn.execution.duration_ms
    txn.outbox.callbacks.append(lambda: metrics.execution_ended(
        status, duration_ms / 1000 if duration_ms is not None else None))


def audit_change(txn: Transaction) -> None:
    """The audit entry of a change a person asked for (cancel, approve...), in its transaction."""
    audit.write_pending(txn.session)


def build_engine(settings: Settings, dispatcher: Dispatcher, sessions: sessionmaker[Session] | None = None,
                 keyring: KeyRing | None = None) -> Engine:
    engine = Engine(settings, keyring or load_keyring(settings), dispatcher, sessions)
    engine.hooks.execution_ended += [on_execution_ended, finish_child, cancel_children, count_execution_end,
                                     notifications.enqueue_ended]
    engine.hooks.suspended.append(start_children)
    engine.hooks.turn_recorded += [account_turn, store_artifacts]
    engine.hooks.approval_requested.append(notifications.enqueue_approval)
    engine.hooks.committing.append(audit_change)
    engine.hooks.maintenance += [roll_up_usage, notifications.prune_deliveries]
    engine.services = NodeServices(engine.sessions, engine.keyring, settings)
    # Load the node-type plugins now (the model SDKs take seconds to import), not after a step
    # is claimed, when the import would run down its lease and the step be taken for lost.
    node_types()
    return engine
