"""The structured answers of an execution's llm nodes, and whether they met their schema."""
from __future__ import annotations

from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.context import owner, transaction
from api.schemas import PageQuery, page_of
from orchestrator.services import usage

blp = Blueprint("structured_outputs", __name__, description="Structured outputs of an execution's nodes")


class StructuredOutputSchema(Schema):
    id = fields.UUID(required=True)
    node_id = fields.String(required=True)
    output_schema = fields.Dict(required=True)
    structured_data = fields.Raw(required=True, allow_none=True)
    schema_valid = fields.Boolean(required=True)
    validation_errors = fields.Raw(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


@blp.route("/executions/<uuid:execution_id>/structured-outputs")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(StructuredOutputSchema, "StructuredOutputPage"))
def list_structured_outputs(query, execution_id):
    """One per node that has an output_schema: its data, and its validation errors if any"""
    with transaction() as session:
        return usage.list_structured_outputs(session, owner(), execution_id, **query)
