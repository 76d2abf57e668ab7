"""Licenses (seed 004): the owner of a workflow lets another user run it, that is submit
executions of it (owned by that user) and read the executions they submitted."""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator.db import License, User, Workflow
from orchestrator.services.errors import Conflict, Invalid, NotFound
from orchestrator.services.pagination import DEFAULT_LIMIT, Page
from orchestrator.services.workflows import get_workflow, workflow_row, workflow_rows


def grant(session: Session, owner: User, workflow_id: uuid.UUID, user_email: str) -> License:
    workflow = get_workflow(session, owner, workflow_id)
    user = session.scalar(select(User).where(User.email == user_email))
    if user is None:
        raise Invalid("no user with that email", {"user_email": [f"no user {user_email}"]})
    if user.id == owner.id:
        raise Invalid("the owner runs the workflow without a license", {"user_email": ["that is the owner"]})
    license = License(workflow_id=workflow.id, user=user, granted_by=owner.id)
    try:
        with session.begin_nested():
            session.add(license)
    except IntegrityError:
        raise Conflict(f"{user_email} already holds a license for workflow {workflow_id}") from None
    return license


def list_licenses(session: Session, owner: User, workflow_id: uuid.UUID, *, cursor: str | None = None,
                  limit: int = DEFAULT_LIMIT) -> Page[License]:
    return workflow_rows(session, owner, workflow_id, License, cursor, limit)


def revoke(session: Session, owner: User, workflow_id: uuid.UUID, license_id: uuid.UUID) -> License:
    license = workflow_row(session, owner, workflow_id, License, license_id, "license")
    session.delete(license)
    return license


def runnable_workflow(session: Session, user: User, workflow_id: uuid.UUID) -> Workflow:
    """The workflow if ``user`` owns it or holds a license for it; else NotFound."""
    workflow = session.get(Workflow, workflow_id)
    if workflow is not None and (workflow.owner_id == user.id or session.scalar(
            select(License.id).where(License.workflow_id == workflow_id, License.user_id == user.id))):
        return workflow
    raise NotFound(f"workflow {workflow_id} not found")
