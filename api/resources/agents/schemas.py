"""Agents as the API reads and writes them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, page_of
from orchestrator.states import AgentStatus

MODEL_DOC = {"description": "<provider name>/<model_id>", "example": "acme-openai/gpt-4o-mini"}
MODEL_REF = validate.Regexp(r"^[^/\s]+/\S+$", error="must be <provider name>/<model_id>")


class AgentChangeSchema(Schema):
    name = fields.String(validate=validate.Length(1, 255), metadata={"description": "Unique per owner"})
    start = fields.String(validate=validate.Length(max=10_000))
    goal = fields.String(validate=validate.Length(max=10_000))
    status = fields.String(validate=validate.OneOf(AgentStatus.values()))
    model = fields.String(allow_none=True, validate=[validate.Length(max=255), MODEL_REF], metadata=MODEL_DOC)
    instructions = fields.String(allow_none=True, validate=validate.Length(max=100_000))
    tools = fields.List(fields.String(validate=validate.Length(1, 64)), validate=validate.Length(max=50),
                        metadata={"description": "Names of tools (yours or shared)"})
    output_schema = fields.Dict(allow_none=True, metadata={"description": "JSON Schema of the final answer"})
    max_iterations = fields.Integer(strict=True, validate=validate.Range(1, 100))


class AgentCreateSchema(AgentChangeSchema):
    name = fields.String(required=True, validate=validate.Length(1, 255))
    start = fields.String(load_default="", validate=validate.Length(max=10_000))
    goal = fields.String(load_default="", validate=validate.Length(max=10_000))
    status = fields.String(load_default=AgentStatus.ACTIVE.value, validate=validate.OneOf(AgentStatus.values()))
    model = fields.String(required=True, validate=[validate.Length(max=255), MODEL_REF], metadata=MODEL_DOC)
    tools = fields.List(fields.String(validate=validate.Length(1, 64)), load_default=list,
                        validate=validate.Length(max=50))
    max_iterations = fields.Integer(strict=True, load_default=10, validate=validate.Range(1, 100))


class AgentQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(AgentStatus.values()))


class AgentSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    start = fields.String(required=True)
    goal = fields.String(required=True)
    status = fields.String(required=True)
    model = fields.String(required=True, allow_none=True)
    instructions = fields.String(required=True, allow_none=True)
    tools = fields.List(fields.String(), required=True)
    output_schema = fields.Dict(required=True, allow_none=True)
    max_iterations = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)


AgentPageSchema = page_of(AgentSchema, "AgentPage")
