"""What started an execution and what it started; the artifacts its steps produced."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, redirect

from api.blueprint import Blueprint
from api.context import owner, transaction
from api.resources.lineage.schemas import ArtifactPageSchema, ArtifactSchema, LineageSchema
from api.schemas import PageQuery
from orchestrator.services import artifacts, lineage
from orchestrator.states import ArtifactRef

blp = Blueprint("lineage", __name__, description="Executions' lineage and artifacts")


@blp.route("/executions/<uuid:execution_id>/lineage")
@blp.response(200, LineageSchema)
def get_lineage(execution_id):
    """What started the execution (key, app, schedule, parent) and the executions it started"""
    with transaction() as session:
        return lineage.lineage_of(session, owner(), execution_id)


@blp.route("/executions/<uuid:execution_id>/artifacts")
@blp.arguments(PageQuery, location="query")
@blp.response(200, ArtifactPageSchema)
def list_artifacts(query, execution_id):
    """The files and references its steps produced, newest first"""
    with transaction() as session:
        return artifacts.list_artifacts(session, owner(), execution_id, **query)


@blp.route("/executions/<uuid:execution_id>/artifacts/<uuid:artifact_id>")
@blp.response(200, ArtifactSchema)
def get_artifact(execution_id, artifact_id):
    """One artifact, without its content"""
    with transaction() as session:
        return artifacts.get_artifact(session, owner(), execution_id, artifact_id)


@blp.route("/executions/<uuid:execution_id>/artifacts/<uuid:artifact_id>/content")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/octet-stream",
              description="The content, with the artifact's media type, as an attachment named after it")
@blp.alt_response(303, description="A reference (uri): Location is where it lives")
def download(execution_id, artifact_id):
    """Download an artifact's content (a reference redirects to its uri)"""
    with transaction() as session:
        artifact = artifacts.get_artifact(session, owner(), execution_id, artifact_id)
    if artifact.ref_type == ArtifactRef.URI:
        return redirect(artifact.uri, 303)
    plain = artifact.name.encode("ascii", "replace").decode().replace("?", "_")    # for clients without filename*
    disposition = f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(artifact.name, safe='')}"
    return Response(artifact.content, mimetype=artifact.media_type,
                    headers={"Content-Disposition": disposition, "X-Content-Type-Options": "nosniff"})
