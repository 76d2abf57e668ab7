"""Lineage and artifacts of an execution as the API shows them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import page_of
from orchestrator.services.lineage import MAX_STARTED
from orchestrator.states import ArtifactRef, LineageKind


class OriginSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(LineageKind.values()),
                         metadata={"description": "api_key, app, schedule, parent (a subworkflow node's execution) "
                                                  "or replay"})
    ref_id = fields.UUID(required=True, metadata={"description": "The id of that key, app, schedule or execution"})
    label = fields.String(required=True, allow_none=True, metadata={"description": "What it is, in a few words; "
                                                                                   "null when it is gone"})
    metadata = fields.Dict(required=True, allow_none=True,
                           metadata={"description": "parent: the waiting step's id and the map index"})
    created_at = fields.DateTime(required=True)


class StartedSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(LineageKind.values()))
    execution_id = fields.UUID(required=True)
    workflow_id = fields.UUID(required=True)
    workflow_name = fields.String(required=True)
    status = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class LineageSchema(Schema):
    execution_id = fields.UUID(required=True)
    trigger = fields.String(required=True)
    started_by = fields.List(fields.Nested(OriginSchema), required=True,
                             metadata={"description": "What started it (none: the CLI or the API without a key row)"})
    started = fields.List(fields.Nested(StartedSchema), required=True, metadata={
        "description": f"The executions it started (children, replays), oldest first; the first {MAX_STARTED}"})


class ArtifactSchema(Schema):
    id = fields.UUID(required=True)
    execution_id = fields.UUID(required=True)
    node_id = fields.String(required=True)
    attempt = fields.Integer(required=True)
    position = fields.Integer(required=True, metadata={"description": "Its place in the step output's artifacts"})
    name = fields.String(required=True)
    media_type = fields.String(required=True)
    ref_type = fields.String(required=True, validate=validate.OneOf(ArtifactRef.values()),
                             metadata={"description": "content: stored here; uri: a reference"})
    uri = fields.String(required=True, allow_none=True)
    size_bytes = fields.Integer(required=True, allow_none=True)
    sha256 = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


ArtifactPageSchema = page_of(ArtifactSchema, "ArtifactPage")
