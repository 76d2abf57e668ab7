"""The audit log (DESIGN section 13): who changed what, written in the transaction that
made the change.

The caller (an API request) says who acts with ``begin_acting`` (else it is the CLI); a change that
the service makes in its own transaction calls ``record`` inside it. A change made inside
a transaction the engine owns (cancel, pause, resume, retry, an approval) is announced
with ``pending`` around the call: the listener that ``install`` puts on the engine's
session factory writes it into the first transaction that commits within, so it commits,
or rolls back, with the change.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.db import AuditLog, User
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, paginate


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID | None
    api_key_id: uuid.UUID | None = None
    client_address: str | None = None
    app_id: uuid.UUID | None = None        # an app acting with its own key (for its owner, ``user_id``)
    webhook_id: uuid.UUID | None = None    # a signed call of a webhook (for its owner, ``user_id``)


@dataclass(frozen=True)
class _Entry:
    action: str
    object_type: str
    object_id: Any
    payload: dict[str, Any] | None


CLI = Actor(None, None, "cli")
_actor: ContextVar[Actor | None] = ContextVar("audit_actor", default=None)
_pending: ContextVar[_Entry | None] = ContextVar("audit_pending", default=None)


def begin_acting(actor: Actor) -> Token:
    """From now on in this context, changes are ``actor``'s; ``end_acting`` with the token."""
    return _actor.set(actor)


def end_acting(token: Token) -> None:
    _actor.reset(token)


def current_actor() -> Actor | None:
    """Who acts in this context: set by an API request, None elsewhere (the CLI, a worker, beat)."""
    return _actor.get()


def record(session: Session, action: str, object_type: str, object_id: Any = None,
           payload: dict[str, Any] | None = None) -> None:
    """Add the audit row of a change to ``session``'s transaction, as the current actor."""
    actor = _actor.get() or CLI
    session.add(AuditLog(user_id=actor.user_id, api_key_id=actor.api_key_id, app_id=actor.app_id, action=action,
                         object_type=object_type, object_id=None if object_id is None else str(object_id),
                         payload=payload, client_address=actor.client_address))


@contextmanager
def pending(action: str, object_type: str, object_id: Any = None,
            payload: dict[str, Any] | None = None) -> Iterator[None]:
    """Record ``action`` in the first transaction that commits inside this block."""
    token = _pending.set(_Entry(action, object_type, object_id, payload))
    try:
        yield
    finally:
        _pending.reset(token)


def write_pending(session: Session) -> None:
    """Write the pending entry (see ``pending``) in ``session``'s transaction, once."""
    entry = _pending.get()
    if entry is not None:
        _pending.set(None)
        record(session, entry.action, entry.object_type, entry.object_id, entry.payload)


def install(sessions: sessionmaker) -> None:
    """Let the sessions of ``sessions`` write pending audit entries (idempotent)."""
    if not event.contains(sessions, "before_commit", write_pending):
        event.listen(sessions, "before_commit", write_pending)


def list_audit_logs(session: Session, viewer: User, *, action: str | None = None, cursor: str | None = None,
                    limit: int = DEFAULT_LIMIT) -> Page[AuditLog]:
    """Newest first: every entry for an admin, the viewer's own for anyone else."""
    query = select(AuditLog)
    if not viewer.is_admin:
        query = query.where(AuditLog.user_id == viewer.id)
    if action is not None:
        query = query.where(AuditLog.action == action)
    return paginate(session, query, AuditLog, cursor, limit)
