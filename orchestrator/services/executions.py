"""Executions: submitting one (the path the API, the CLI and the scheduler share), reading
them, their steps and events, and acting on them for their owner."""
from __future__ import annotations

import hashlib
import string
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import ColumnElement, String, and_, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator import metrics
from orchestrator.db import (
    A2AMessage, Execution, ExecutionEvent, ExecutionStep, SharedContext, Squad, User, Workflow,
)
from orchestrator.definitions import InputValidationError, validate_input
from orchestrator.engine import Engine, Outbox
from orchestrator.engine.store import canonical_json
from orchestrator.services.errors import Conflict, Invalid, owned
from orchestrator.services import audit, lineage, limits, notifications
from orchestrator.services.licenses import runnable_workflow
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, decode_cursor, encode_cursor, list_owned, paginate
from orchestrator.services.workflows import version_of
from orchestrator.states import ExecutionStatus, Trigger, WorkflowStatus


def submit(engine: Engine, owner: User, workflow_id: uuid.UUID, input: Any = None, *, version: int | None = None,
           idempotency_key: str | None = None, trigger: Trigger = Trigger.API,
           schedule_id: uuid.UUID | None = None, notify: dict[str, Any] | None = None) -> tuple[Execution, bool]:
    """Create and start an execution; returns it and whether it is new. ``notify``
    (``{url, events?}``): a URL told when this execution ends or waits for approval.

    The same idempotency key with the same request returns the first execution; with a
    different request it is a Conflict.
    """
    input = {} if input is None else input
    request = {"workflow_id": str(workflow_id), "version": version, "input": input}
    request_hash = hashlib.sha256(canonical_json({**request, "notify": notify} if notify else request)).hexdigest()
    if idempotency_key:
        existing = _by_key(engine, owner, idempotency_key)
        if existing is not None:
            return _same_request(existing, request_hash), False
    try:
        with engine.transaction() as (session, outbox):
            execution = create(engine, session, outbox, owner, workflow_id, input, version=version, trigger=trigger,
                               schedule_id=schedule_id, idempotency_key=idempotency_key, request_hash=request_hash)
            if notify:
                notifications.watch_execution(session, engine.keyring, execution, **notify)
            audit.record(session, "execution.create", "execution", execution.id,
                         {"workflow_id": str(execution.workflow_id), "version": execution.version,
                          "trigger": trigger.value})
            limits.take_execution_slot(session, owner)      # last: see its docstring
    except IntegrityError:
        existing = _by_key(engine, owner, idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return _same_request(existing, request_hash), False
    return execution, True


@dataclass(frozen=True)
class Parent:
    """Where a child execution belongs: the parent execution, its waiting step, the map index."""

    execution_id: uuid.UUID
    step_id: uuid.UUID
    depth: int
    index: int


def create(engine: Engine, session: Session, outbox: Outbox, owner: User, workflow_id: uuid.UUID, input: Any, *,
           version: int | None = None, trigger: Trigger = Trigger.API, schedule_id: uuid.UUID | None = None,
           idempotency_key: str | None = None, request_hash: str | None = None,
           parent: Parent | None = None) -> Execution:
    """Inside the caller's transaction: check, insert and start an execution.

    Its first messages go to ``outbox``, sent once the caller's transaction commits.
    """
    row = version_of(session, runnable_workflow(session, owner, workflow_id), version)
    if row.workflow.status == WorkflowStatus.ARCHIVED:
        raise Conflict(f"workflow {workflow_id} is archived")
    try:
        validate_input(engine.definitions.get(session.connection(), row.id), input)
    except InputValidationError as exc:
        raise Invalid("input does not match the workflow's input_schema", {"input": exc.errors}) from None
    execution = Execution(
        id=uuid.uuid4(), workflow_id=row.workflow_id, workflow_version_id=row.id, version=row.version,
        owner_id=owner.id, trigger=trigger.value, schedule_id=schedule_id, input=input,
        idempotency_key=idempotency_key, request_hash=request_hash,
    )
    if row.workflow.squad_id is not None:      # a squad's workflow costs its price per execution
        execution.total_cost = session.scalar(select(Squad.price_per_execution)
                                              .where(Squad.id == row.workflow.squad_id))
    if parent is not None:
        execution.parent_execution_id, execution.parent_step_id = parent.execution_id, parent.step_id
        execution.depth, execution.meta = parent.depth + 1, {"map_index": parent.index}
    session.add(execution)
    session.flush()
    lineage.record_origin(session, execution)
    engine.start(session, execution, outbox)
    metrics.execution_submitted(trigger.value)
    return execution


def _by_key(engine: Engine, owner: User, key: str) -> Execution | None:
    with engine.sessions() as session:
        return session.scalar(select(Execution).where(Execution.owner_id == owner.id,
                                                      Execution.idempotency_key == key))


def _same_request(existing: Execution, request_hash: str) -> Execution:
    if existing.request_hash != request_hash:
        raise Conflict("Idempotency-Key was already used with a different request")
    return existing


def get_execution(session: Session, owner: User, execution_id: uuid.UUID) -> Execution:
    return owned(session, Execution, execution_id, owner, "execution")


def list_executions(session: Session, owner: User, *, workflow_id: uuid.UUID | None = None,
                    status: ExecutionStatus | None = None, search: str | None = None,
                    created_from: datetime | None = None, created_to: datetime | None = None,
                    cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> Page[Execution]:
    """Newest first, narrowed to a workflow, a status, a search (see ``matching``) and a range of
    creation times (both ends inclusive)."""
    if created_from and created_to and created_to < created_from:
        raise Invalid("the range ends before it starts", {"to": ["is before from"]})
    query = select(Execution).where(Execution.owner_id == owner.id)
    if workflow_id is not None:
        query = query.where(Execution.workflow_id == workflow_id)
    if status is not None:
        query = query.where(Execution.status == status)
    if created_from is not None:
        query = query.where(Execution.created_at >= created_from)
    if created_to is not None:
        query = query.where(Execution.created_at <= created_to)
    if search and search.strip():
        query = query.where(matching(search.strip()))
    return paginate(session, query, Execution, cursor, limit)


def matching(text: str) -> ColumnElement[bool]:
    """An execution whose id starts with ``text`` (dashes optional), whose workflow's name or
    error message contains it (any case), or whose status it names."""
    found = [Execution.error_message.icontains(text, autoescape=True),
             Execution.workflow_id.in_(select(Workflow.id).where(Workflow.name.icontains(text, autoescape=True)))]
    if text.lower() in ExecutionStatus.values():
        found.append(Execution.status == text.lower())
    digits = text.replace("-", "").lower()
    if digits and len(digits) <= 32 and all(c in string.hexdigits for c in digits):
        found.append(func.replace(cast(Execution.id, String), "-", "").startswith(digits, autoescape=True))
    return or_(*found)


def list_steps(session: Session, owner: User, execution_id: uuid.UUID) -> Page[ExecutionStep]:
    """One row per node (bounded by the definition, so one page), in the order they were queued."""
    get_execution(session, owner, execution_id)
    return Page(list(session.scalars(
        select(ExecutionStep).where(ExecutionStep.execution_id == execution_id)
        .order_by(ExecutionStep.queued_at.asc().nulls_last(), ExecutionStep.node_id))))


def list_events(session: Session, owner: User, execution_id: uuid.UUID, *, after: int = 0,
                limit: int = DEFAULT_LIMIT) -> Page[ExecutionEvent]:
    """Events with ``seq`` above ``after``, oldest first; ``next_cursor`` is the ``after`` of the next page."""
    get_execution(session, owner, execution_id)
    events = list(session.scalars(
        select(ExecutionEvent).where(ExecutionEvent.execution_id == execution_id, ExecutionEvent.seq > after)
        .order_by(ExecutionEvent.seq).limit(limit + 1)))
    if len(events) <= limit:
        return Page(events)
    return Page(events[:limit], str(events[limit - 1].seq))


def act(engine: Engine, owner: User, execution_id: uuid.UUID,
        action: Callable[[Engine, uuid.UUID], None]) -> Execution:
    """Run an engine control (cancel, pause, resume, retry) on the owner's execution."""
    with engine.sessions() as session:
        get_execution(session, owner, execution_id)
    with audit.pending(f"execution.{action.__name__}", "execution", execution_id):
        action(engine, execution_id)
    with engine.sessions() as session:
        return get_execution(session, owner, execution_id)


def list_children(session: Session, owner: User, execution_id: uuid.UUID, *, cursor: str | None = None,
                  limit: int = DEFAULT_LIMIT) -> Page[Execution]:
    """The child executions a subworkflow node of this execution started."""
    get_execution(session, owner, execution_id)
    return list_owned(session, Execution, owner, cursor, limit, parent_execution_id=execution_id)


def list_contexts(session: Session, owner: User, execution_id: uuid.UUID) -> Page[SharedContext]:
    """The execution's shared contexts (one per namespace, so one page)."""
    get_execution(session, owner, execution_id)
    return Page(list(session.scalars(select(SharedContext).where(SharedContext.execution_id == execution_id)
                                     .order_by(SharedContext.namespace))))


def list_messages(session: Session, owner: User, execution_id: uuid.UUID, *, cursor: str | None = None,
                  limit: int = DEFAULT_LIMIT) -> Page[A2AMessage]:
    """Agent-to-agent messages, oldest first, in the order they were written."""
    get_execution(session, owner, execution_id)
    query = select(A2AMessage).where(A2AMessage.execution_id == execution_id)
    if cursor:
        created_at, row_id = decode_cursor(cursor)
        query = query.where(or_(A2AMessage.created_at > created_at,
                                and_(A2AMessage.created_at == created_at, A2AMessage.id > row_id)))
    messages = list(session.scalars(query.order_by(A2AMessage.created_at, A2AMessage.id).limit(limit + 1)))
    if len(messages) <= limit:
        return Page(messages)
    last = messages[limit - 1]
    return Page(messages[:limit], encode_cursor(last.created_at, last.id))
