"""What an app does with its own key: list and run the published workflows of the groups it
is licensed for, and read the executions it started. Nothing else: the API refuses an app
key on every other route, and a user key on these.

An app's executions belong to its owner (who sees them as their own, with the app in their
lineage); the app reads only those it started. Its ``Idempotency-Key`` values are its own:
they are stored as ``app:<app id>:<key>``, apart from the owner's.
"""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.db import App, AppLicense, Execution, Workflow, WorkflowGroup
from orchestrator.engine import Engine
from orchestrator.services import audit, executions
from orchestrator.services.errors import Conflict, Forbidden, NotFound
from orchestrator.services.lineage import started_by
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, paginate
from orchestrator.states import AuditPolicy, ExecutionStatus, LineageKind, WorkflowStatus

# Room left in executions.idempotency_key (255) for the app's own key after its prefix.
APP_IDEMPOTENCY_KEY_MAX = 200


def _licensed_groups(app: App):
    return select(AppLicense.group_id).where(AppLicense.app_id == app.id)


def list_workflows(session: Session, app: App, *, cursor: str | None = None,
                   limit: int = DEFAULT_LIMIT) -> Page[Workflow]:
    """The owner's published workflows in the groups the app is licensed for, newest first."""
    query = select(Workflow).where(Workflow.owner_id == app.owner_id, Workflow.group_id.in_(_licensed_groups(app)),
                                   Workflow.status == WorkflowStatus.PUBLISHED.value)
    return paginate(session, query, Workflow, cursor, limit)


def runnable_workflow(session: Session, app: App, workflow_id: uuid.UUID) -> Workflow:
    """The workflow if the app may run it; else why not: NotFound (not its owner's), Forbidden
    (in no group, or a group it holds no license for), Conflict (not published)."""
    workflow = session.get(Workflow, workflow_id)
    if workflow is None or workflow.owner_id != app.owner_id:
        raise NotFound(f"workflow {workflow_id} not found")
    if workflow.group_id is None:
        raise Forbidden(f"app {app.alias_id!r} may run only workflows of the groups it is licensed for, and "
                        f"workflow {workflow.name!r} is in no group")
    licensed = session.scalar(select(AppLicense.id).where(AppLicense.app_id == app.id,
                                                          AppLicense.group_id == workflow.group_id))
    if licensed is None:
        group = session.get_one(WorkflowGroup, workflow.group_id)
        raise Forbidden(f"app {app.alias_id!r} holds no license for group {group.name!r} of workflow "
                        f"{workflow.name!r}")
    if workflow.status != WorkflowStatus.PUBLISHED or workflow.published_version is None:
        raise Conflict(f"workflow {workflow.name!r} is {workflow.status}: an app runs published workflows only")
    return workflow


def submit(engine: Engine, app: App, workflow_id: uuid.UUID, input: Any = None,
           idempotency_key: str | None = None) -> tuple[Execution, bool]:
    """An execution of the workflow's published version, owned by the app's owner."""
    with engine.sessions() as session:
        version = runnable_workflow(session, app, workflow_id).published_version
    return executions.submit(engine, app.owner, workflow_id, input, version=version,
                             idempotency_key=idempotency_key and f"app:{app.id}:{idempotency_key}")


def _read(session: Session, app: App, what: str, object_id: Any = None) -> None:
    """An app whose audit_policy is ``all`` has its reads in the audit log too."""
    if app.audit_policy == AuditPolicy.ALL:
        audit.record(session, f"app.read_{what}", "execution", object_id)


def list_executions(session: Session, app: App, *, status: ExecutionStatus | None = None,
                    cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> Page[Execution]:
    query = select(Execution).where(Execution.owner_id == app.owner_id, started_by(LineageKind.APP, app.id))
    if status is not None:
        query = query.where(Execution.status == status)
    _read(session, app, "executions")
    return paginate(session, query, Execution, cursor, limit)


def get_execution(session: Session, app: App, execution_id: uuid.UUID) -> Execution:
    execution = session.scalar(select(Execution).where(Execution.id == execution_id,
                                                       started_by(LineageKind.APP, app.id)))
    if execution is None:
        raise NotFound(f"execution {execution_id} not found")
    _read(session, app, "execution", execution_id)
    return execution
