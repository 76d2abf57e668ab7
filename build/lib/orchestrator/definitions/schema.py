"""Marshmallow schemas for the structure of a definition (DESIGN section 2).

Nodes and edges are loaded one at a time by ``validation`` so that errors can name the node
id; node configs are checked against their node type's own schema there too.
"""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from orchestrator.definitions.model import EdgeSpec, NodeSpec, RetryPolicy
from orchestrator.states import EdgeOutcome, OnError

NODE_ID_PATTERN = r"[A-Za-z0-9_-]{1,100}\Z"


class DefinitionSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(allow_none=True, load_default=None)
    timeout_seconds = fields.Integer(strict=True, allow_none=True, load_default=None, validate=validate.Range(min=1))
    max_steps = fields.Integer(strict=True, load_default=500, validate=validate.Range(min=1))
    input_schema = fields.Dict(keys=fields.String(), allow_none=True, load_default=None)
    nodes = fields.List(
        fields.Raw(), required=True, validate=validate.Length(min=1, error="must list at least one node")
    )
    edges = fields.List(fields.Raw(), load_default=list)
    output = fields.Raw(allow_none=True, load_default=None)


class RetrySchema(Schema):
    max_attempts = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1))
    backoff_seconds = fields.Float(load_default=1.0, validate=validate.Range(min=0))
    backoff_factor = fields.Float(load_default=2.0, validate=validate.Range(min=1))
    max_backoff_seconds = fields.Float(load_default=60.0, validate=validate.Range(min=0))

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> RetryPolicy:
        return RetryPolicy(**data)


class PositionSchema(Schema):
    x = fields.Float(required=True)
    y = fields.Float(required=True)


class NodeSchema(Schema):
    id = fields.String(
        required=True, validate=validate.Regexp(NODE_ID_PATTERN, error="must be 1 to 100 of A-Z a-z 0-9 _ -")
    )
    type = fields.String(required=True)
    name = fields.String(validate=validate.Length(min=1, max=255))
    config = fields.Dict(keys=fields.String(), load_default=dict)
    retry = fields.Nested(RetrySchema, load_default=RetryPolicy)
    timeout_seconds = fields.Float(load_default=300.0, validate=validate.Range(min=0, min_inclusive=False))
    on_error = fields.Enum(OnError, by_value=True, load_default=OnError.FAIL)
    default_output = fields.Raw(allow_none=True, load_default=dict)
    position = fields.Nested(PositionSchema)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> NodeSpec:
        return NodeSpec(**{"name": data["id"], **data})


class EdgeSchema(Schema):
    source = fields.String(required=True)
    target = fields.String(required=True)
    condition = fields.String(allow_none=True, load_default=None)
    on = fields.Enum(EdgeOutcome, by_value=True, load_default=EdgeOutcome.SUCCESS)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> EdgeSpec:
        return EdgeSpec(**data)
