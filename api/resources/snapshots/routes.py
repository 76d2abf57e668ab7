"""Workflow snapshots: labelled versions with who made them and what changed; restore one as a new version."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint, conflict
from api.context import audited, keyring, owner, transaction
from api.resources.snapshots.schemas import (
    SnapshotCreatedSchema, SnapshotCreateSchema, SnapshotDetailSchema, SnapshotPageSchema,
)
from api.resources.workflows.schemas import WorkflowSchema
from api.schemas import PageQuery
from orchestrator.services import audit, snapshots

blp = Blueprint("snapshots", __name__, description="Labelled snapshots of workflow versions, with their diffs")


@blp.route("/workflows/<uuid:workflow_id>/snapshots")
class Snapshots(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, SnapshotPageSchema)
    def get(self, query, workflow_id):
        """A workflow's snapshots, newest first"""
        with transaction() as session:
            return snapshots.list_snapshots(session, keyring(), owner(), workflow_id, **query)

    @blp.arguments(SnapshotCreateSchema)
    @blp.response(201, SnapshotCreatedSchema)
    def post(self, body, workflow_id):
        """Snapshot a version, with its diff from the previous snapshot (else from the version before)"""
        with transaction() as session:
            snapshot = snapshots.create_snapshot(session, keyring(), owner(), workflow_id, **body)
            audit.record(session, "snapshot.create", "snapshot", snapshot["id"],
                         {"workflow_id": str(workflow_id), "version": snapshot["version"]})
            return snapshot


@blp.route("/workflows/<uuid:workflow_id>/snapshots/<uuid:snapshot_id>")
@blp.response(200, SnapshotDetailSchema)
def get_snapshot(workflow_id, snapshot_id):
    """A snapshot with its diff and its version's definition"""
    with transaction() as session:
        return snapshots.describe(session, keyring(), owner(), workflow_id, snapshot_id)


@blp.route("/workflows/<uuid:workflow_id>/snapshots/<uuid:snapshot_id>/restore", methods=["POST"])
@blp.response(200, WorkflowSchema)
@conflict("the workflow is archived")
def restore(workflow_id, snapshot_id):
    """Make the snapshot's definition the workflow's newest version (earlier versions stay)"""
    with transaction() as session:
        workflow = snapshots.restore(session, keyring(), owner(), workflow_id, snapshot_id)
        return audited(session, "workflow.restore", workflow, {"snapshot_id": str(snapshot_id),
                                                               "version": workflow.latest_version})
