"""Building the engine the way every process uses it: the one place that lists the
transition hooks. The API app factory, the worker, beat and the CLI call ``build_engine``."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from orchestrator.config import Settings
from orchestrator.crypto import KeyRing, load_keyring
from orchestrator.engine import Dispatcher, Engine
from orchestrator.schedules.bookkeeping import on_execution_ended


@dataclass(frozen=True)
class NodeServices:
    """What node types that need the database (the LLM and agent layers) get as ``ctx.services``."""

    sessions: sessionmaker[Session]
    keyring: KeyRing
    settings: Settings


def build_engine(settings: Settings, dispatcher: Dispatcher, sessions: sessionmaker[Session] | None = None,
                 keyring: KeyRing | None = None) -> Engine:
    engine = Engine(settings, keyring or load_keyring(settings), dispatcher, sessions)
    engine.hooks.execution_ended.append(on_execution_ended)
    engine.services = NodeServices(engine.sessions, engine.keyring, settings)
    return engine
