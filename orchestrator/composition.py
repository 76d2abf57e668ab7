"""Building the engine the way every process uses it: the one place that lists the
transition hooks. The API app factory, the worker, beat and the CLI call ``build_engine``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from orchestrator.config import Settings
from orchestrator.crypto import KeyRing, load_keyring
from orchestrator.engine import Dispatcher, Engine, Transaction
from orchestrator.engine.sql import Row
from orchestrator.llm import account
from orchestrator.nodes.base import NodeContext
from orchestrator.nodes.registry import node_types
from orchestrator.schedules.bookkeeping import on_execution_ended
from orchestrator.services.children import cancel_children, finish_child, start_children


@dataclass(frozen=True)
class NodeServices:
    """What node types that need the database (the LLM and agent layers) get as ``ctx.services``."""

    sessions: sessionmaker[Session]
    keyring: KeyRing
    settings: Settings


def account_turn(txn: Transaction, step: Row, ctx: NodeContext, output: Any) -> None:
    """Usage metrics, structured outputs and memory of a turn's model calls, in its commit."""
    account(txn.session, txn.engine.keyring, ctx, output)


def build_engine(settings: Settings, dispatcher: Dispatcher, sessions: sessionmaker[Session] | None = None,
                 keyring: KeyRing | None = None) -> Engine:
    engine = Engine(settings, keyring or load_keyring(settings), dispatcher, sessions)
    engine.hooks.execution_ended += [on_execution_ended, finish_child, cancel_children]
    engine.hooks.suspended.append(start_children)
    engine.hooks.turn_recorded.append(account_turn)
    engine.services = NodeServices(engine.sessions, engine.keyring, settings)
    # Load the node-type plugins now (the model SDKs take seconds to import), not after a step
    # is claimed, when the import would run down its lease and the step be taken for lost.
    node_types()
    return engine
