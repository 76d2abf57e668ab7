"""An execution's calls to models and tools, redacted."""
from __future__ import annotations

from marshmallow import Schema, fields

from api.blueprint import Blueprint
from api.context import owner, transaction
from api.schemas import PageQuery, page_of
from orchestrator.services import usage

blp = Blueprint("calls", __name__, description="Calls to models and tools made by an execution's steps")


class CallSchema(Schema):
    id = fields.UUID(required=True)
    step_id = fields.UUID(required=True)
    node_id = fields.String(required=True)
    attempt = fields.Integer(required=True)
    turn = fields.Integer(required=True)
    seq = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "llm or tool"})
    target = fields.String(required=True, metadata={"description": "<provider>/<model_id> or a tool's name"})
    status = fields.String(required=True, metadata={"description": "ok or error"})
    request = fields.Raw(required=True, allow_none=True, metadata={"description": "Redacted"})
    response = fields.Raw(required=True, allow_none=True, metadata={"description": "Redacted"})
    usage = fields.Dict(required=True, allow_none=True)
    cost = fields.Float(required=True, allow_none=True)
    latency_ms = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    meta = fields.Dict(required=True, allow_none=True, data_key="metadata")
    created_at = fields.DateTime(required=True)


@blp.route("/executions/<uuid:execution_id>/calls")
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(CallSchema, "CallPage"))
def list_calls(query, execution_id):
    """The calls an execution made, newest first, with usage, cost and latency"""
    with transaction() as session:
        return usage.list_calls(session, owner(), execution_id, **query)
