"""Tools as the API reads and writes them."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.schemas import PageQuery, page_of
from orchestrator.nodes.http import METHODS
from orchestrator.states import ToolKind, ToolStatus, ToolVisibility

TOOL_NAME = validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$", error="1-64 letters, digits, _ or - (what a model calls)")


class ToolConfigSchema(Schema):
    """``{kind: http, method, url, headers?, json?}`` (values are templates that see ``arguments``)
    or ``{kind: workflow, workflow_id}`` (the workflow's id or name; runs as a child execution)."""

    kind = fields.String(required=True, validate=validate.OneOf(ToolKind.values()))
    method = fields.String(validate=validate.OneOf(METHODS))
    url = fields.String(validate=validate.Length(1, 2048))
    headers = fields.Dict(keys=fields.String(), values=fields.String())
    json = fields.Raw(allow_none=True)
    timeout_seconds = fields.Float(validate=validate.Range(0, 300, min_inclusive=False))
    workflow_id = fields.String(validate=validate.Length(1, 255))

    @validates_schema
    def _by_kind(self, data, **_):
        http_keys = {"method", "url", "headers", "json", "timeout_seconds"}
        if data["kind"] == ToolKind.HTTP:
            if "url" not in data:
                raise ValidationError("an http tool needs a url", "url")
            if "workflow_id" in data:
                raise ValidationError("only a workflow tool has a workflow_id", "workflow_id")
        else:
            if "workflow_id" not in data:
                raise ValidationError("a workflow tool needs a workflow_id", "workflow_id")
            extra = sorted(http_keys & data.keys())
            if extra:
                raise ValidationError(f"a workflow tool has no {', '.join(extra)}", extra[0])


class ToolChangeSchema(Schema):
    name = fields.String(validate=TOOL_NAME)
    category = fields.String(allow_none=True, validate=validate.Length(max=100))
    description = fields.String(validate=validate.Length(1, 10_000))
    input_schema = fields.Dict(metadata={"description": "JSON Schema of the arguments"})
    config = fields.Nested(ToolConfigSchema)
    visibility = fields.String(validate=validate.OneOf(ToolVisibility.values()),
                               metadata={"description": "shared: runs for every owner"})
    requires_approval = fields.Boolean(metadata={"description": "Each call waits for a human approval"})


class ToolCreateSchema(ToolChangeSchema):
    name = fields.String(required=True, validate=TOOL_NAME)
    description = fields.String(required=True, validate=validate.Length(1, 10_000))
    input_schema = fields.Dict(load_default=lambda: {"type": "object"})
    config = fields.Nested(ToolConfigSchema, required=True)
    visibility = fields.String(load_default=ToolVisibility.PRIVATE.value,
                               validate=validate.OneOf(ToolVisibility.values()))
    requires_approval = fields.Boolean(load_default=False)


class ToolQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(ToolStatus.values()))
    category = fields.String(validate=validate.Length(1, 100))


class ToolSchema(Schema):
    id = fields.UUID(required=True)
    owner_id = fields.UUID(required=True)
    name = fields.String(required=True)
    category = fields.String(required=True, allow_none=True)
    description = fields.String(required=True)
    input_schema = fields.Dict(required=True)
    config = fields.Dict(required=True)
    visibility = fields.String(required=True)
    requires_approval = fields.Boolean(required=True)
    status = fields.String(required=True, metadata={"description": "pending, approved or rejected; only "
                                                                   "approved tools run"})
    reviewed_at = fields.DateTime(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


ToolPageSchema = page_of(ToolSchema, "ToolPage")
