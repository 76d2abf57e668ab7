"""Workflows and their immutable versions."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Protocol, Sequence, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing, open_field
from orchestrator.db import Squad, User, Workflow, WorkflowVersion
from orchestrator.db.types import utcnow
from orchestrator.definitions import DefinitionError, WorkflowDefinition, parse_definition
from orchestrator.engine.store import build_version
from orchestrator.services.errors import Conflict, Invalid, NotFound, owned
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, list_owned, paginate
from orchestrator.states import WorkflowSource, WorkflowStatus
from orchestrator.templating import referenced_keys


class OfWorkflow(Protocol):
    """A row that belongs to one workflow (a license, a webhook...)."""

    workflow_id: Any


T = TypeVar("T", bound=OfWorkflow)


@dataclass(frozen=True)
class WithDefinition:
    """A workflow or version row with its decrypted definition, for its owner's eyes only."""

    row: Workflow | WorkflowVersion
    definition: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)


@dataclass(frozen=True)
class Validation:
    """What a dry run of a definition found: it parses; these are things worth a look."""

    definition: WorkflowDefinition
    warnings: list[str]

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def nodes(self) -> list[str]:
        return list(self.definition.nodes)


def validate(source: Any) -> Validation:
    """A dry run of ``create_workflow``: the same Invalid errors, nothing stored, and a warning
    for each template reference to a node the definition does not have."""
    definition = _parse(source)
    warnings = []
    places: list[tuple[str, Any, Sequence[str]]] = [
        (f"node {node.id}", node.config, ()) for node in definition.nodes.values()]
    places += [(f"edge {edge.source} -> {edge.target}", None, [edge.condition] if edge.condition else [])
               for edge in definition.edges]
    places.append(("output", definition.output, ()))
    for where, value, conditions in places:
        for node_id, path in referenced_keys("nodes", value, conditions).items():
            if node_id not in definition.nodes:
                warnings.append(f"{where}: {path} refers to nodes.{node_id}, which is not a node of this workflow")
    return Validation(definition, warnings)


def _parse(source: Any) -> WorkflowDefinition:
    try:
        return parse_definition(source)
    except DefinitionError as exc:
        raise Invalid("invalid workflow definition", {"definition": exc.errors}) from None


def create_workflow(session: Session, keyring: KeyRing, owner: User, source: Any, *,
                    name: str | None = None, description: str | None = None,
                    squad_id: uuid.UUID | None = None, origin: WorkflowSource = WorkflowSource.NATIVE,
                    source_id: str | None = None) -> Workflow:
    """A draft workflow with version 1 (of one of the owner's squads, when ``squad_id``);
    ``origin`` and ``source_id`` say where it was made (seed 001: native, coze, imported)."""
    definition = _parse(source)
    if squad_id is not None:
        squad = session.get(Squad, squad_id)
        if squad is None or squad.creator_id != owner.id:
            raise NotFound(f"squad {squad_id} not found")
    workflow = Workflow(id=uuid.uuid4(), owner_id=owner.id, name=name or definition.name,
                        description=description if description is not None else definition.description,
                        latest_version=1, squad_id=squad_id, source=WorkflowSource(origin).value,
                        source_id=source_id)
    session.add(workflow)
    session.add(build_version(keyring, workflow.id, 1, definition))
    session.flush()
    return workflow


def get_workflow(session: Session, owner: User, workflow_id: uuid.UUID) -> Workflow:
    return owned(session, Workflow, workflow_id, owner, "workflow")


def workflow_rows(session: Session, owner: User, workflow_id: uuid.UUID, model: type[T], cursor: str | None,
                  limit: int) -> Page[T]:
    """A page of the owner's workflow's rows of ``model`` (licenses, webhooks...), newest first."""
    get_workflow(session, owner, workflow_id)
    return paginate(session, select(model).where(model.workflow_id == workflow_id), model, cursor, limit)


def workflow_row(session: Session, owner: User, workflow_id: uuid.UUID, model: type[T], row_id: uuid.UUID,
                 what: str) -> T:
    """One of the owner's workflow's rows of ``model``; NotFound naming ``what`` otherwise."""
    get_workflow(session, owner, workflow_id)
    row = session.get(model, row_id)
    if row is None or row.workflow_id != workflow_id:
        raise NotFound(f"{what} {row_id} not found")
    return row


def find_workflow(session: Session, owner: User, ref: str) -> Workflow:
    """The owner's workflow by id, or else by name (the newest that is not archived)."""
    try:
        return get_workflow(session, owner, uuid.UUID(ref))
    except ValueError:
        pass
    workflow = session.scalar(select(Workflow).where(
        Workflow.owner_id == owner.id, Workflow.name == ref, Workflow.status != WorkflowStatus.ARCHIVED.value,
    ).order_by(Workflow.created_at.desc()).limit(1))
    if workflow is None:
        raise NotFound(f"workflow {ref!r} not found")
    return workflow


def list_workflows(session: Session, owner: User, *, status: WorkflowStatus | None = None,
                   name: str | None = None, cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> Page[Workflow]:
    return list_owned(session, Workflow, owner, cursor, limit, status=status, name=name)


def describe(session: Session, keyring: KeyRing, owner: User, workflow_id: uuid.UUID) -> WithDefinition:
    """The workflow with the definition of its latest version."""
    workflow = get_workflow(session, owner, workflow_id)
    return WithDefinition(workflow, definition_of(keyring, get_version(session, owner, workflow_id,
                                                                       workflow.latest_version)))


def add_version(session: Session, keyring: KeyRing, owner: User, workflow_id: uuid.UUID, source: Any,
                label: str | None = None) -> WorkflowVersion:
    """A new immutable version; earlier versions and their executions are untouched."""
    workflow = get_workflow(session, owner, workflow_id)
    if workflow.status == WorkflowStatus.ARCHIVED:
        raise Conflict("workflow is archived")
    definition = _parse(source)
    workflow.latest_version += 1
    version = build_version(keyring, workflow.id, workflow.latest_version, definition, label)
    session.add(version)
    session.flush()
    return version


def get_version(session: Session, owner: User, workflow_id: uuid.UUID, number: int | None = None) -> WorkflowVersion:
    """A given version, or the published one (else the latest) when none is named."""
    return version_of(session, get_workflow(session, owner, workflow_id), number)


def version_of(session: Session, workflow: Workflow, number: int | None = None) -> WorkflowVersion:
    """``workflow``'s version ``number``, or its published one (else the latest)."""
    number = number or workflow.published_version or workflow.latest_version
    version = session.scalar(select(WorkflowVersion).where(
        WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.version == number))
    if version is None:
        raise NotFound(f"workflow {workflow.id} has no version {number}")
    return version


def update_workflow(session: Session, keyring: KeyRing, owner: User, workflow_id: uuid.UUID, source: Any, *,
                    name: str | None = None, description: str | None = None,
                    label: str | None = None) -> Workflow:
    """A new version, and the workflow's name or description when given."""
    workflow = add_version(session, keyring, owner, workflow_id, source, label).workflow
    if name is not None:
        workflow.name = name
    if description is not None:
        workflow.description = description
    return workflow


def list_versions(session: Session, owner: User, workflow_id: uuid.UUID, *, cursor: str | None = None,
                  limit: int = DEFAULT_LIMIT) -> Page[WorkflowVersion]:
    """Version history, newest first."""
    workflow = get_workflow(session, owner, workflow_id)
    query = select(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow.id)
    return paginate(session, query, WorkflowVersion, cursor, limit)


def describe_version(session: Session, keyring: KeyRing, owner: User, workflow_id: uuid.UUID,
                     number: int) -> WithDefinition:
    version = get_version(session, owner, workflow_id, number)
    return WithDefinition(version, definition_of(keyring, version))


def publish(session: Session, owner: User, workflow_id: uuid.UUID, number: int | None = None) -> Workflow:
    version = get_version(session, owner, workflow_id, number or get_workflow(session, owner, workflow_id).latest_version)
    workflow = version.workflow
    if workflow.status == WorkflowStatus.ARCHIVED:
        raise Conflict("workflow is archived")
    workflow.published_version = version.version
    workflow.status = WorkflowStatus.PUBLISHED.value
    workflow.published_at, workflow.published_by = utcnow(), owner.id
    return workflow


def archive(session: Session, owner: User, workflow_id: uuid.UUID) -> Workflow:
    workflow = get_workflow(session, owner, workflow_id)
    workflow.status = WorkflowStatus.ARCHIVED.value
    return workflow


def definition_of(keyring: KeyRing, version: WorkflowVersion) -> dict[str, Any]:
    """The decrypted definition, for its owner."""
    return json.loads(open_field(keyring, version, "definition"))
