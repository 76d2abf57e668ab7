"""Workflow groups (seed 004 flow.group_id): an owner's named sets of workflows, which apps are
licensed to run. A workflow is in at most one group: the seed's flow has one ``group_id``, and
with one group "which apps may run this workflow" has one answer, the licenses of its group."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.db import User, Workflow, WorkflowGroup
from orchestrator.services.errors import Conflict, NotFound, apply_changes, flush_unique, owned
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, list_owned, paginate
from orchestrator.services.workflows import get_workflow


def create_group(session: Session, owner: User, name: str, description: str | None = None) -> WorkflowGroup:
    group = WorkflowGroup(id=uuid.uuid4(), owner_id=owner.id, name=name, description=description)
    session.add(group)
    flush_unique(session, f"a workflow group named {name!r}")
    return group


def list_groups(session: Session, owner: User, *, cursor: str | None = None,
                limit: int = DEFAULT_LIMIT) -> Page[WorkflowGroup]:
    return list_owned(session, WorkflowGroup, owner, cursor, limit)


def get_group(session: Session, owner: User, group_id: uuid.UUID) -> WorkflowGroup:
    return owned(session, WorkflowGroup, group_id, owner, "workflow group")


def update_group(session: Session, owner: User, group_id: uuid.UUID, **changes: Any) -> WorkflowGroup:
    group = get_group(session, owner, group_id)
    apply_changes(group, changes)
    flush_unique(session, f"a workflow group named {group.name!r}")
    return group


def delete_group(session: Session, owner: User, group_id: uuid.UUID) -> WorkflowGroup:
    """Its workflows stay, in no group (the foreign key sets theirs to NULL); the licenses to it go."""
    group = get_group(session, owner, group_id)
    session.delete(group)
    session.flush()
    return group


def add_workflow(session: Session, owner: User, group_id: uuid.UUID, workflow_id: uuid.UUID) -> Workflow:
    group = get_group(session, owner, group_id)
    workflow = get_workflow(session, owner, workflow_id)
    if workflow.group_id not in (None, group.id):
        raise Conflict(f"workflow {workflow_id} is in group {workflow.group_id}; a workflow is in one group at "
                       "most: remove it from that group first")
    workflow.group_id = group.id
    return workflow


def remove_workflow(session: Session, owner: User, group_id: uuid.UUID, workflow_id: uuid.UUID) -> Workflow:
    group = get_group(session, owner, group_id)
    workflow = get_workflow(session, owner, workflow_id)
    if workflow.group_id != group.id:
        raise NotFound(f"workflow {workflow_id} is not in group {group_id}")
    workflow.group_id = None
    return workflow


def list_workflows(session: Session, owner: User, group_id: uuid.UUID, *, cursor: str | None = None,
                   limit: int = DEFAULT_LIMIT) -> Page[Workflow]:
    group = get_group(session, owner, group_id)
    return paginate(session, select(Workflow).where(Workflow.group_id == group.id), Workflow, cursor, limit)
