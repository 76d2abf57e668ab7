"""Building the engine the way every process uses it: the one place that lists the
transition hooks. The API app factory, the worker, beat and the CLI call ``build_engine``."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from orchestrator.config import Settings
from orchestrator.crypto import KeyRing, load_keyring
from orchestrator.engine import Dispatcher, Engine
from orchestrator.schedules.bookkeeping import on_execution_ended
from orchestrator.services.children import cancel_children, finish_child, start_children


@dataclass(frozen=True)
class NodeServices:
    """What node types that need the database (the LLM and agent layers) get as ``ctx.services``."""

    sessions: sessionmaker[Session]
    keyring: KeyRing
    settings: Settings


def build_engine(settings: Settings, dispatcher: Dispatcher, sessions: sessionmaker[Session] | None = None,
                 keyring: KeyRing | None = None) -> Engine:
    engine = Engine(settings, keyring or load_keyring(settings), dispatcher, sessions)
    engine.hooks.execution_ended += [on_execution_ended, finish_child, cancel_children]
    engine.hooks.suspended.append(start_children)
    engine.services = NodeServices(engine.sessions, engine.keyring, settings)
    return engine
