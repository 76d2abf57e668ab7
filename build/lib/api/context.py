"""What a view reaches for: the app's engine, a transaction, and the caller (set by ``auth``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ContextManager

from celery import Celery
from flask import current_app, g
from sqlalchemy.orm import Session

from api.metrics import Metrics
from orchestrator.crypto import KeyRing
from orchestrator.db import User
from orchestrator.engine import Engine


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


def transaction() -> ContextManager[Session]:
    """A session in a transaction that commits when the block ends without an error."""
    return wiring().engine.sessions.begin()


def owner() -> User:
    """The owner of the request's API key."""
    return g.owner
