"""Marshmallow schemas for the structure of a definition.

Nodes and edges are loaded one at a time by ``validation`` so that errors can name the node
id; node configs are checked against their node type's own schema there too.
"""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from orchestrator.definitions.model import EdgeSpec, NodeSpec, RetryPolicy
from orchestrator.nodes.builtin import MAX_WAIT_SECONDS
from orchestrator.states import EdgeOutcome, OnError
from orchestrator.storable import NotStorable, check_storable

NODE_ID_PATTERN = r"[A-Za-z0-9_-]{1,100}\Z"

# What one definition may hold, so that saving, loading and running it stay cheap.
MAX_NODES = 1_000
MAX_EDGES = 5_000
MAX_STEPS = 100_000
MAX_ATTEMPTS = 100
MAX_BACKOFF_FACTOR = 100


def _seconds(minimum: float = 0, min_inclusive: bool = True) -> validate.Range:
    """A duration in seconds: at most ten years, far from where date arithmetic overflows."""
    return validate.Range(min=minimum, max=MAX_WAIT_SECONDS, min_inclusive=min_inclusive)


def _storable(value: object) -> None:
    try:
        check_storable(value)
    except NotStorable as exc:
        raise ValidationError(str(exc)) from None


class DefinitionSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    description = fields.String(allow_none=True, load_default=None)
    timeout_seconds = fields.Integer(strict=True, allow_none=True, load_default=None, validate=_seconds(1))
    # Left out: what the definition needs (validation.default_max_steps).
    max_steps = fields.Integer(strict=True, load_default=None, validate=validate.Range(min=1, max=MAX_STEPS))
    input_schema = fields.Dict(keys=fields.String(), allow_none=True, load_default=None)
    nodes = fields.List(fields.Raw(), required=True, validate=[
        validate.Length(min=1, error="must list at least one node"),
        validate.Length(max=MAX_NODES, error="must list at most {max} nodes"),
    ])
    edges = fields.List(fields.Raw(), load_default=list,
                        validate=validate.Length(max=MAX_EDGES, error="must list at most {max} edges"))
    output = fields.Raw(allow_none=True, load_default=None)


class RetrySchema(Schema):
    max_attempts = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=MAX_ATTEMPTS))
    backoff_seconds = fields.Float(load_default=1.0, validate=_seconds())
    backoff_factor = fields.Float(load_default=2.0, validate=validate.Range(min=1, max=MAX_BACKOFF_FACTOR))
    max_backoff_seconds = fields.Float(load_default=60.0, validate=_seconds())

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> RetryPolicy:
        return RetryPolicy(**data)


class PositionSchema(Schema):
    x = fields.Float(required=True)
    y = fields.Float(required=True)


class ContextWriteSchema(Schema):
    namespace = fields.String(required=True, validate=validate.Regexp(NODE_ID_PATTERN,
                                                                      error="must be 1 to 100 of A-Z a-z 0-9 _ -"))
    value = fields.Raw(required=True, allow_none=True)
    mode = fields.String(load_default="merge", validate=validate.OneOf(["merge", "replace"]))


class NodeSchema(Schema):
    id = fields.String(
        required=True, validate=validate.Regexp(NODE_ID_PATTERN, error="must be 1 to 100 of A-Z a-z 0-9 _ -")
    )
    type = fields.String(required=True)
    name = fields.String(validate=validate.Length(min=1, max=255))
    config = fields.Dict(keys=fields.String(), load_default=dict)
    retry = fields.Nested(RetrySchema, load_default=RetryPolicy)
    timeout_seconds = fields.Float(load_default=300.0, validate=_seconds(0, min_inclusive=False))
    on_error = fields.Enum(OnError, by_value=True, load_default=OnError.FAIL)
    default_output = fields.Raw(allow_none=True, load_default=dict, validate=_storable)
    position = fields.Nested(PositionSchema)
    context_write = fields.Nested(ContextWriteSchema)

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
