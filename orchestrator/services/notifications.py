"""Outbound notifications: URLs told when an execution ends (completed, failed, cancelled,
timed out) or waits for a human decision, per workflow or per execution.

A target's URL and secret are sealed (the URL may hold a token). The transition hooks
(``enqueue_ended``, ``enqueue_approval``; registered in ``orchestrator.composition``) only
write a ``notification_deliveries`` row in the transaction of the transition, so a rolled-back
transition tells nobody and a committed one is told at least once; the workers' notifier sends
them (``orchestrator.services.deliveries``), never inside that transaction.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing, open_field, seal_field
from orchestrator.db import Execution, HumanApproval, NotificationDelivery, NotificationTarget, User
from orchestrator.db.types import utcnow
from orchestrator.engine import Engine, Transaction
from orchestrator.engine.sql import Row
from orchestrator.security.network import describe_url
from orchestrator.security.signing import new_secret
from orchestrator.services.errors import owned
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, paginate
from orchestrator.services.workflows import get_workflow, workflow_row, workflow_rows
from orchestrator.states import DeliveryStatus, ExecutionStatus, NotificationEvent

SECRET_PREFIX = "ntsec"
# An output larger than this (as JSON) is left out of the body: ``output_truncated: true``.
MAX_OUTPUT_CHARS = 64 * 1024
ENDED = {ExecutionStatus.COMPLETED: NotificationEvent.COMPLETED, ExecutionStatus.FAILED: NotificationEvent.FAILED,
         ExecutionStatus.CANCELLED: NotificationEvent.CANCELLED, ExecutionStatus.TIMED_OUT: NotificationEvent.TIMED_OUT}
PRUNE_BATCH = 5000


@dataclass(frozen=True)
class TargetView:
    """A target as its owner sees it: the URL without its user info and query string."""

    id: uuid.UUID
    workflow_id: uuid.UUID | None
    execution_id: uuid.UUID | None
    url: str
    events: list[str]
    created_at: datetime


def _view(keyring: KeyRing, target: NotificationTarget) -> TargetView:
    return TargetView(target.id, target.workflow_id, target.execution_id,
                      describe_url(open_field(keyring, target, "url").decode()), target.events, target.created_at)


def _new(session: Session, keyring: KeyRing, owner_id: uuid.UUID, url: str, events: Iterable[str] | None,
         **parent: uuid.UUID) -> tuple[NotificationTarget, str]:
    secret = new_secret(SECRET_PREFIX)
    target = NotificationTarget(id=uuid.uuid4(), owner_id=owner_id,
                                events=list(dict.fromkeys(events or NotificationEvent.values())), **parent)
    seal_field(keyring, target, "url", url.encode())
    seal_field(keyring, target, "secret", secret.encode())
    session.add(target)
    session.flush()
    return target, secret


def create_target(session: Session, keyring: KeyRing, owner: User, workflow_id: uuid.UUID, url: str,
                  events: Iterable[str] | None = None) -> tuple[TargetView, str]:
    """A URL told about every execution of the workflow; (it, its secret, shown this once)."""
    get_workflow(session, owner, workflow_id)
    target, secret = _new(session, keyring, owner.id, url, events, workflow_id=workflow_id)
    return _view(keyring, target), secret


def watch_execution(session: Session, keyring: KeyRing, execution: Execution, url: str,
                    events: Iterable[str] | None = None) -> None:
    """A URL told about this execution only: in the transaction that creates it, so that it
    cannot end before the target exists."""
    _new(session, keyring, execution.owner_id, url, events, execution_id=execution.id)


def execution_secret(session: Session, keyring: KeyRing, execution_id: uuid.UUID) -> str | None:
    """The secret of the execution's own target (given at submit), for its submitter."""
    target = session.scalar(select(NotificationTarget).where(NotificationTarget.execution_id == execution_id))
    return None if target is None else open_field(keyring, target, "secret").decode()


def list_targets(session: Session, keyring: KeyRing, owner: User, workflow_id: uuid.UUID, *,
                 cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> Page[TargetView]:
    page = workflow_rows(session, owner, workflow_id, NotificationTarget, cursor, limit)
    return Page([_view(keyring, target) for target in page.items], page.next_cursor)


def delete_target(session: Session, owner: User, workflow_id: uuid.UUID, target_id: uuid.UUID) -> NotificationTarget:
    """The target goes, with its deliveries (sent or not)."""
    target = workflow_row(session, owner, workflow_id, NotificationTarget, target_id, "notification")
    session.delete(target)
    return target


def list_deliveries(session: Session, owner: User, execution_id: uuid.UUID, *, cursor: str | None = None,
                    limit: int = DEFAULT_LIMIT) -> Page[NotificationDelivery]:
    """The notifications of an execution, newest first, each with how its delivery went."""
    owned(session, Execution, execution_id, owner, "execution")
    return paginate(session, select(NotificationDelivery).where(NotificationDelivery.execution_id == execution_id),
                    NotificationDelivery, cursor, limit)


# -- transition hooks -----------------------------------------------------------------------

def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def execution_body(execution: Row) -> dict[str, Any]:
    """The execution as a notification tells it (its output when small enough)."""
    body = {"id": str(execution.id), "workflow_id": str(execution.workflow_id), "version": execution.version,
            "status": execution.status, "trigger": execution.trigger, "error": execution.error_message,
            "created_at": _iso(execution.created_at), "started_at": _iso(execution.started_at),
            "completed_at": _iso(execution.completed_at), "duration_ms": execution.duration_ms}
    output = execution.values.get("output")
    if output is not None:
        if len(json.dumps(output)) <= MAX_OUTPUT_CHARS:
            body["output"] = output
        else:
            body["output_truncated"] = True
    return body


def _enqueue(txn: Transaction, event: NotificationEvent, body: Any) -> None:
    """A delivery per target of the execution (its workflow's and its own) that wants ``event``."""
    execution = txn.execution
    targets = txn.conn.execute(select(NotificationTarget.id, NotificationTarget.events).where(or_(
        NotificationTarget.workflow_id == execution.workflow_id, NotificationTarget.execution_id == execution.id))).all()
    wanted = [target_id for target_id, events in targets if event.value in events]
    if not wanted:
        return
    payload = body() if callable(body) else body
    rows = []
    for target_id in wanted:
        delivery_id = uuid.uuid4()
        rows.append({"id": delivery_id, "target_id": target_id, "execution_id": execution.id, "event": event.value,
                     "event_seq": execution.event_seq, "status": DeliveryStatus.PENDING.value, "attempts": 0,
                     "next_attempt_at": txn.now, "created_at": txn.now, "updated_at": txn.now,
                     "payload": {"id": str(delivery_id), "event": event.value, "created_at": txn.now.isoformat(),
                                 **payload}})
    txn.conn.execute(insert(NotificationDelivery), rows)


def enqueue_ended(txn: Transaction) -> None:
    """``execution_ended``: tell the execution's targets how it ended."""
    _enqueue(txn, ENDED[ExecutionStatus(txn.execution.status)], {"execution": execution_body(txn.execution)})


def enqueue_approval(txn: Transaction, step: Row, approval_id: uuid.UUID) -> None:
    """``approval_requested``: tell the execution's targets that a step waits for a person."""
    def body() -> dict[str, Any]:
        approval = txn.conn.execute(select(HumanApproval.expires_at, HumanApproval.approver_email,
                                           HumanApproval.details).where(HumanApproval.id == approval_id)).one()
        return {"execution": execution_body(txn.execution),
                "approval": {"id": str(approval_id), "node_id": step.node_id, "expires_at": _iso(approval.expires_at),
                             "approver_email": approval.approver_email, "details": approval.details}}
    _enqueue(txn, NotificationEvent.APPROVAL_WAITING, body)


def prune_deliveries(engine: Engine) -> bool:
    """``maintenance``: deliveries done (delivered or failed) before the event retention
    period go, as the events do; True when more are left."""
    if engine.settings.event_retention_days <= 0:
        return False
    cutoff = utcnow() - timedelta(days=engine.settings.event_retention_days)
    with engine.sessions.begin() as session:
        ids = session.scalars(select(NotificationDelivery.id).where(
            NotificationDelivery.status != DeliveryStatus.PENDING.value,
            NotificationDelivery.created_at < cutoff).limit(PRUNE_BATCH)).all()
        if ids:
            session.execute(delete(NotificationDelivery).where(NotificationDelivery.id.in_(ids)))
    return len(ids) == PRUNE_BATCH
