"""What a view reaches for: the app's engine, a transaction, and the caller (set by ``auth``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ContextManager, TypeVar

from celery import Celery
from flask import current_app, g
from sqlalchemy.orm import Session

from api.metrics import Metrics
from orchestrator.config import Settings
from orchestrator.crypto import KeyRing
from orchestrator.db import App, User
from orchestrator.engine import Engine
from orchestrator.services import audit

T = TypeVar("T")


@dataclass(frozen=True)
class Orchestrator:
    """The app's wiring, kept in ``app.extensions["orchestrator"]``."""

    engine: Engine
    celery: Celery
    metrics: Metrics


def wiring() -> Orchestrator:
    return current_app.extensions["orchestrator"]


def engine() -> Engine:
    return wiring().engine


def keyring() -> KeyRing:
    return wiring().engine.keyring


def settings() -> Settings:
    return wiring().engine.settings


def transaction() -> ContextManager[Session]:
    """A session in a transaction that commits when the block ends without an error."""
    return wiring().engine.sessions.begin()


def owner() -> User:
    """The owner of the request's API key."""
    return g.owner


def app() -> App:
    """The app whose key the request sent (views marked ``app_only``)."""
    return g.app


def audited(session: Session, action: str, row: T, payload: dict[str, Any] | None = None) -> T:
    """Record ``action`` on ``row`` (object type: the part of the action before the dot) in
    ``session``'s transaction, the one that changed it; returns ``row``."""
    audit.record(session, action, action.split(".")[0], getattr(row, "id", None), payload)
    return row
