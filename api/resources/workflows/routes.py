"""Workflows and their immutable versions."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint, conflict
from api.context import audited, keyring, owner, transaction
from api.resources.workflows.schemas import (
    PublishSchema, ValidateSchema, ValidationSchema, VersionDetailSchema, VersionPageSchema, WorkflowCreateSchema, WorkflowDetailSchema,
    WorkflowPageSchema, WorkflowQuery, WorkflowSchema, WorkflowUpdateSchema,
)
from api.schemas import INT_MAX, PageQuery
from orchestrator.services import workflows

blp = Blueprint("workflows", __name__, description="Workflow definitions and their immutable versions")


@blp.route("/workflows")
class Workflows(MethodView):
    @blp.arguments(WorkflowQuery, location="query")
    @blp.response(200, WorkflowPageSchema)
    def get(self, query):
        """List workflows, newest first"""
        with transaction() as session:
            return workflows.list_workflows(session, owner(), **query)

    @blp.arguments(WorkflowCreateSchema)
    @blp.response(201, WorkflowSchema)
    def post(self, body):
        """Create a workflow: version 1, status draft"""
        with transaction() as session:
            workflow = workflows.create_workflow(session, keyring(), owner(), **body)
            return audited(session, "workflow.create", workflow, {"name": workflow.name})


@blp.route("/workflows/validate", methods=["POST"])
@blp.arguments(ValidateSchema)
@blp.response(200, ValidationSchema)
def validate(body):
    """Check a definition without storing it: the same 422s as creating it, plus warnings"""
    return workflows.validate(body["source"])


@blp.route("/workflows/<uuid:workflow_id>")
class Workflow(MethodView):
    @blp.response(200, WorkflowDetailSchema)
    def get(self, workflow_id):
        """Get a workflow with its latest definition"""
        with transaction() as session:
            return workflows.describe(session, keyring(), owner(), workflow_id)

    @blp.arguments(WorkflowUpdateSchema)
    @blp.response(200, WorkflowSchema)
    @conflict("the workflow is archived")
    def put(self, body, workflow_id):
        """Add a new immutable version (and rename or describe the workflow)"""
        with transaction() as session:
            workflow = workflows.update_workflow(session, keyring(), owner(), workflow_id, **body)
            return audited(session, "workflow.update", workflow, {"version": workflow.latest_version})

    @blp.response(200, WorkflowSchema)
    def delete(self, workflow_id):
        """Archive a workflow; its executions keep their history"""
        with transaction() as session:
            return audited(session, "workflow.archive", workflows.archive(session, owner(), workflow_id))


@blp.route("/workflows/<uuid:workflow_id>/publish", methods=["POST"])
@blp.arguments(PublishSchema, required=False)
@blp.response(200, WorkflowSchema)
@conflict("the workflow is archived")
def publish(body, workflow_id):
    """Pin the version that executions run by default"""
    with transaction() as session:
        workflow = workflows.publish(session, owner(), workflow_id, **body)
        return audited(session, "workflow.publish", workflow, {"version": workflow.published_version})


@blp.route("/workflows/<uuid:workflow_id>/versions")
@blp.arguments(PageQuery, location="query")
@blp.response(200, VersionPageSchema)
def versions(query, workflow_id):
    """Version history, newest first"""
    with transaction() as session:
        return workflows.list_versions(session, owner(), workflow_id, **query)


@blp.route(f"/workflows/<uuid:workflow_id>/versions/<int(min=1, max={INT_MAX}):number>")
@blp.response(200, VersionDetailSchema)
def version(workflow_id, number):
    """Get one version with its definition"""
    with transaction() as session:
        return workflows.describe_version(session, keyring(), owner(), workflow_id, number)
