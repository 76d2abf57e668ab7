"""Workflow snapshots as the API shows them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import INT_MAX, page_of


class SnapshotCreateSchema(Schema):
    label = fields.String(required=True, validate=validate.Length(1, 255), metadata={"example": "before the Q3 prompt"})
    version = fields.Integer(validate=validate.Range(1, INT_MAX), metadata={"description": "Default: the latest"})


class ChangeSchema(Schema):
    path = fields.String(required=True, metadata={"description": "Dotted path, e.g. config.url"})
    before = fields.Raw(required=True, allow_none=True, metadata={"description": "Secrets masked; (absent) if new"})
    after = fields.Raw(required=True, allow_none=True, metadata={"description": "Secrets masked; (absent) if gone"})


class PartDiffSchema(Schema):
    added = fields.List(fields.Dict(), required=True)
    removed = fields.List(fields.Dict(), required=True)
    changed = fields.List(fields.Dict(), required=True, metadata={"description": "Each with its changes: "
                                                                                 "[{path, before, after}]"})


class DiffSchema(Schema):
    summary = fields.String(required=True, metadata={"example": "1 node added, 1 node changed"})
    settings = fields.List(fields.Nested(ChangeSchema), required=True,
                           metadata={"description": "name, timeout_seconds, input_schema, output..."})
    nodes = fields.Nested(PartDiffSchema, required=True)
    edges = fields.Nested(PartDiffSchema, required=True)


class SnapshotSchema(Schema):
    id = fields.UUID(required=True)
    workflow_id = fields.UUID(required=True)
    version = fields.Integer(required=True, metadata={"description": "The version it captures"})
    label = fields.String(required=True)
    created_by = fields.UUID(required=True, allow_none=True, metadata={"description": "The user who made it"})
    base_version = fields.Integer(required=True, allow_none=True, metadata={
        "description": "What the diff starts from: the previous snapshot's version, else the version before "
                       "(null: none, everything is added)"})
    summary = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class SnapshotDetailSchema(SnapshotSchema):
    diff = fields.Nested(DiffSchema, required=True)
    definition = fields.Dict(required=True, metadata={"description": "The definition of its version"})


class SnapshotCreatedSchema(SnapshotSchema):
    diff = fields.Nested(DiffSchema, required=True)


SnapshotPageSchema = page_of(SnapshotSchema, "SnapshotPage")
