"""Workflow snapshots (seed 001): a labelled snapshot of a version, who made it, and the
structural diff from the previous snapshot (else from the version before), sealed with the
encryption keys like definitions (associated data: the snapshot's row). A snapshot can be
restored: its version's definition becomes the workflow's newest version."""
from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing, open_field, seal_field
from orchestrator.db import User, Workflow, WorkflowSnapshot, WorkflowVersion
from orchestrator.definitions import parse_definition
from orchestrator.definitions.diff import diff_definitions
from orchestrator.services.errors import NotFound
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, paginate
from orchestrator.services.workflows import add_version, definition_of, get_workflow, version_of


def _view(snapshot: WorkflowSnapshot, diff: dict[str, Any], definition: dict[str, Any] | None = None) \
        -> dict[str, Any]:
    view = {column: getattr(snapshot, column) for column in
            ("id", "workflow_id", "version", "label", "created_by", "base_version", "created_at")}
    return {**view, "summary": diff["summary"], "diff": diff, "definition": definition}


def _definition_at(session: Session, keyring: KeyRing, workflow: Workflow, number: int | None):
    return None if number is None else parse_definition(definition_of(keyring, version_of(session, workflow, number)))


def create_snapshot(session: Session, keyring: KeyRing, owner: User, workflow_id: uuid.UUID, label: str,
                    version: int | None = None) -> dict[str, Any]:
    """A snapshot of ``version`` (default: the latest) with its diff from the previous snapshot."""
    workflow = get_workflow(session, owner, workflow_id)
    row = version_of(session, workflow, version or workflow.latest_version)
    previous = session.scalar(select(WorkflowSnapshot).where(WorkflowSnapshot.workflow_id == workflow.id)
                              .order_by(WorkflowSnapshot.created_at.desc(), WorkflowSnapshot.id.desc()).limit(1))
    base = previous.version if previous is not None else (row.version - 1 or None)
    diff = diff_definitions(_definition_at(session, keyring, workflow, base),
                            parse_definition(definition_of(keyring, row)))
    snapshot = WorkflowSnapshot(id=uuid.uuid4(), workflow_id=workflow.id, workflow_version_id=row.id,
                                version=row.version, label=label, created_by=owner.id, base_version=base)
    seal_field(keyring, snapshot, "diff", json.dumps(diff).encode())
    session.add(snapshot)
    session.flush()
    return _view(snapshot, diff)


def _diff(keyring: KeyRing, snapshot: WorkflowSnapshot) -> dict[str, Any]:
    return json.loads(open_field(keyring, snapshot, "diff"))


def list_snapshots(session: Session, keyring: KeyRing, owner: User, workflow_id: uuid.UUID, *,
                   cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> Page[dict[str, Any]]:
    workflow = get_workflow(session, owner, workflow_id)
    page = paginate(session, select(WorkflowSnapshot).where(WorkflowSnapshot.workflow_id == workflow.id),
                    WorkflowSnapshot, cursor, limit)
    return Page([_view(s, _diff(keyring, s)) for s in page.items], page.next_cursor)


def get_snapshot(session: Session, owner: User, workflow_id: uuid.UUID, snapshot_id: uuid.UUID) -> WorkflowSnapshot:
    workflow = get_workflow(session, owner, workflow_id)
    snapshot = session.get(WorkflowSnapshot, snapshot_id)
    if snapshot is None or snapshot.workflow_id != workflow.id:
        raise NotFound(f"snapshot {snapshot_id} not found")
    return snapshot


def describe(session: Session, keyring: KeyRing, owner: User, workflow_id: uuid.UUID,
             snapshot_id: uuid.UUID) -> dict[str, Any]:
    """The snapshot with its diff and its version's definition."""
    snapshot = get_snapshot(session, owner, workflow_id, snapshot_id)
    return _view(snapshot, _diff(keyring, snapshot), _snapshot_definition(session, keyring, snapshot))


def _snapshot_definition(session: Session, keyring: KeyRing, snapshot: WorkflowSnapshot) -> dict[str, Any]:
    return definition_of(keyring, session.get_one(WorkflowVersion, snapshot.workflow_version_id))


def restore(session: Session, keyring: KeyRing, owner: User, workflow_id: uuid.UUID,
            snapshot_id: uuid.UUID) -> Workflow:
    """The snapshot's definition as a new version (labelled after it); older versions stay."""
    snapshot = get_snapshot(session, owner, workflow_id, snapshot_id)
    return add_version(session, keyring, owner, workflow_id, _snapshot_definition(session, keyring, snapshot),
                       f"restored from snapshot {snapshot.label[:200]!r} (version {snapshot.version})").workflow
