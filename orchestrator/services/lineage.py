"""Lineage (seed 003 task_lineage): what started an execution, and what it started.

``record_origin`` runs in the transaction that creates an execution (``executions.create``,
the path the API, the scheduler and subworkflow nodes share): the parent execution, the
schedule, and the API key, app or webhook of the request that submitted it. Kind ``replay`` is for a
replay feature to fill (the execution a run replays); nothing writes it yet.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.db import ApiKey, App, Execution, ExecutionLineage, ScheduledWorkflow, User, Webhook, Workflow
from orchestrator.services import audit
from orchestrator.services.errors import owned
from orchestrator.states import LineageKind

# Kinds whose ref_id is another execution: what that execution started.
STARTED_BY_EXECUTION = (LineageKind.PARENT.value, LineageKind.REPLAY.value)
# What a lineage answer lists of what an execution started (a map starts up to 1000 children
# per node; GET /executions/{id}/children pages through all of them).
MAX_STARTED = 1000


def record_origin(session: Session, execution: Execution) -> None:
    """Lineage rows of a new execution (flushed, with its parent and schedule set)."""
    rows: list[tuple[LineageKind, uuid.UUID, dict[str, Any] | None]] = []
    if execution.parent_execution_id is not None:
        rows.append((LineageKind.PARENT, execution.parent_execution_id,
                     {"step_id": str(execution.parent_step_id), **(execution.meta or {})}))
    if execution.schedule_id is not None:
        rows.append((LineageKind.SCHEDULE, execution.schedule_id, None))
    actor = audit.current_actor()
    if actor is not None and actor.webhook_id is not None:
        rows.append((LineageKind.WEBHOOK, actor.webhook_id, None))
    elif actor is not None and actor.app_id is not None:
        rows.append((LineageKind.APP, actor.app_id, None))
    elif actor is not None and actor.api_key_id is not None:
        rows.append((LineageKind.API_KEY, actor.api_key_id, None))
    session.add_all([ExecutionLineage(execution_id=execution.id, kind=kind.value, ref_id=ref_id, meta=meta)
                     for kind, ref_id, meta in rows])


@dataclass(frozen=True)
class Origin:
    kind: str
    ref_id: uuid.UUID
    label: str | None
    metadata: dict[str, Any] | None
    created_at: Any


@dataclass(frozen=True)
class Started:
    kind: str
    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_name: str
    status: str
    created_at: Any


@dataclass(frozen=True)
class Lineage:
    execution_id: uuid.UUID
    trigger: str
    started_by: list[Origin]
    started: list[Started]


def _label(session: Session, kind: str, ref_id: uuid.UUID) -> str | None:
    """A few words naming the origin, or None when it is gone."""
    if kind == LineageKind.API_KEY:
        key = session.get(ApiKey, ref_id)
        return f"API key {key.prefix}… ({key.name})" if key else None
    if kind == LineageKind.APP:
        app = session.get(App, ref_id)
        return f"app {app.alias_id} ({app.name})" if app else None
    if kind == LineageKind.WEBHOOK:
        hook = session.get(Webhook, ref_id)
        return f"webhook {hook.name or hook.id}" if hook else None
    if kind == LineageKind.SCHEDULE:
        schedule = session.get(ScheduledWorkflow, ref_id)
        return f"schedule {schedule.cron_expression} ({schedule.timezone})" if schedule else None
    execution = session.get(Execution, ref_id)
    if execution is None:
        return None
    return f"execution of {session.get_one(Workflow, execution.workflow_id).name} ({execution.status})"


def lineage_of(session: Session, owner: User, execution_id: uuid.UUID) -> Lineage:
    execution = owned(session, Execution, execution_id, owner, "execution")
    origins = session.scalars(select(ExecutionLineage).where(ExecutionLineage.execution_id == execution.id)
                              .order_by(ExecutionLineage.kind)).all()
    started = session.execute(
        select(ExecutionLineage.kind, Execution.id, Execution.workflow_id, Workflow.name, Execution.status,
               Execution.created_at)
        .join(Execution, Execution.id == ExecutionLineage.execution_id)
        .join(Workflow, Workflow.id == Execution.workflow_id)
        .where(ExecutionLineage.kind.in_(STARTED_BY_EXECUTION), ExecutionLineage.ref_id == execution.id)
        .order_by(Execution.created_at, Execution.id).limit(MAX_STARTED)).all()
    return Lineage(execution.id, execution.trigger,
                   [Origin(o.kind, o.ref_id, _label(session, o.kind, o.ref_id), o.meta, o.created_at) for o in origins],
                   [Started(*row) for row in started])


def started_by(kind: LineageKind, ref_id: uuid.UUID):
    """A condition on executions: started by ``kind`` ``ref_id`` (e.g. an app)."""
    return Execution.id.in_(select(ExecutionLineage.execution_id).where(
        ExecutionLineage.kind == kind.value, ExecutionLineage.ref_id == ref_id))
