"""Export a workflow with what it refers to, and import one: an export of ours or a Dify DSL."""
from __future__ import annotations

from api.blueprint import Blueprint
from api.context import keyring, owner, transaction
from api.resources.interchange.schemas import ExportQuery, ExportSchema, ImportResultSchema, ImportSchema
from orchestrator.services import audit, interchange

blp = Blueprint("interchange", __name__, description="Import and export of workflows (ours, Dify's DSL)")


@blp.route("/workflows/import", methods=["POST"])
@blp.arguments(ImportSchema)
@blp.response(201, ImportResultSchema)
def import_workflow(body):
    """Import a workflow: source imported; 422 naming each Dify node that has no equivalent"""
    with transaction() as session:
        result = interchange.import_document(session, keyring(), owner(), **body)
        audit.record(session, "workflow.import", "workflow", result["workflow"].id,
                     {"format": result["format"], "source_id": result["workflow"].source_id})
        return result


@blp.route("/workflows/<uuid:workflow_id>/export")
@blp.arguments(ExportQuery, location="query")
@blp.response(200, ExportSchema)
def export_workflow(query, workflow_id):
    """A version (default: the latest) as a document POST /workflows/import takes back"""
    with transaction() as session:
        return interchange.export_workflow(session, keyring(), owner(), workflow_id, **query)
