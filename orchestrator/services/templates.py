"""Workflow templates: the built-in ones shipped in ``orchestrator.agents.templates`` (installed
by ``orchestrator db upgrade``) and each owner's own; instantiating one makes a workflow."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from orchestrator.agents.templates import BUILTIN_TEMPLATES
from orchestrator.crypto import KeyRing
from orchestrator.db import User, Workflow, WorkflowTemplate
from orchestrator.services import workflows
from orchestrator.services.errors import NotFound
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, paginate


def _visible(owner: User):
    return WorkflowTemplate.is_builtin | (WorkflowTemplate.creator_id == owner.id)


def list_templates(session: Session, owner: User, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT,
                   category: str | None = None) -> Page[WorkflowTemplate]:
    query = select(WorkflowTemplate).where(_visible(owner))
    if category is not None:
        query = query.where(WorkflowTemplate.category == category)
    return paginate(session, query, WorkflowTemplate, cursor, limit)


def get_template(session: Session, owner: User, template_id: uuid.UUID) -> WorkflowTemplate:
    template = session.get(WorkflowTemplate, template_id)
    if template is None or not (template.is_builtin or template.creator_id == owner.id):
        raise NotFound(f"template {template_id} not found")
    return template


def create_template(session: Session, owner: User, name: str, definition: dict[str, Any],
                    **fields: Any) -> WorkflowTemplate:
    workflows.validate(definition)
    template = WorkflowTemplate(id=uuid.uuid4(), name=name, definition=definition, creator_id=owner.id,
                                is_builtin=False, **fields)
    session.add(template)
    session.flush()
    return template


def delete_template(session: Session, owner: User, template_id: uuid.UUID) -> None:
    template = session.get(WorkflowTemplate, template_id)
    if template is None or template.is_builtin or template.creator_id != owner.id:
        raise NotFound(f"template {template_id} not found (built-in templates cannot be deleted)")
    session.delete(template)
    session.flush()


def instantiate(session: Session, keyring: KeyRing, owner: User, template_id: uuid.UUID,
                name: str | None = None) -> Workflow:
    """A new draft workflow from the template; counts the template's ``usage_count``."""
    template = get_template(session, owner, template_id)
    workflow = workflows.create_workflow(session, keyring, owner, template.definition,
                                         name=name or template.name, description=template.description)
    session.execute(update(WorkflowTemplate).where(WorkflowTemplate.id == template.id)
                    .values(usage_count=WorkflowTemplate.usage_count + 1).execution_options(synchronize_session=False))
    return workflow


def install_builtin(session: Session, shipped: list[dict[str, Any]] = BUILTIN_TEMPLATES) -> int:
    """Add or update the shipped templates (matched by name among the built-in ones); idempotent.
    Returns how many rows changed. ``orchestrator db upgrade`` (and standalone) run it."""
    changed = 0
    for spec in shipped:
        workflows.validate(spec["definition"])
        row = session.scalar(select(WorkflowTemplate).where(WorkflowTemplate.is_builtin,
                                                            WorkflowTemplate.name == spec["name"]))
        if row is None:
            session.add(WorkflowTemplate(id=uuid.uuid4(), is_builtin=True, **spec))
            changed += 1
        elif any(getattr(row, key) != value for key, value in spec.items()):
            for key, value in spec.items():
                setattr(row, key, value)
            changed += 1
    session.flush()
    return changed
