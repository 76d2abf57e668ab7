"""Workflow groups as the API reads and writes them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import page_of


class GroupChangeSchema(Schema):
    name = fields.String(validate=validate.Length(1, 255), metadata={"description": "Unique per owner"})
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))


class GroupCreateSchema(GroupChangeSchema):
    name = fields.String(required=True, validate=validate.Length(1, 255), metadata={"description": "Unique per owner"})


class GroupSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class GroupMemberSchema(Schema):
    workflow_id = fields.UUID(required=True, metadata={"description": "One of your workflows, in no other group"})


GroupPageSchema = page_of(GroupSchema, "GroupPage")
