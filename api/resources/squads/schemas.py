"""Squads and their members as the API reads and writes them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, page_of
from orchestrator.states import SquadStatus


class SquadChangeSchema(Schema):
    name = fields.String(validate=validate.Length(1, 255))
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    price_per_execution = fields.Float(allow_none=True, validate=validate.Range(0, 10_000),
                                       metadata={"description": "Stored for a marketplace; not charged"})
    status = fields.String(validate=validate.OneOf([SquadStatus.DRAFT.value, SquadStatus.INACTIVE.value]),
                           metadata={"description": "publish makes it active"})


class SquadCreateSchema(SquadChangeSchema):
    name = fields.String(required=True, validate=validate.Length(1, 255))


class SquadQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(SquadStatus.values()))


class SquadSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    status = fields.String(required=True)
    price_per_execution = fields.Float(required=True, allow_none=True)
    published_at = fields.DateTime(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class MemberCreateSchema(Schema):
    agent_id = fields.UUID(required=True)
    role = fields.String(load_default="member", validate=validate.Length(1, 50),
                         metadata={"description": "leader: supervises a supervisor team drawn from the squad"})


class MemberSchema(Schema):
    agent_id = fields.UUID(required=True)
    role = fields.String(required=True)
    added_at = fields.DateTime(required=True)


SquadPageSchema = page_of(SquadSchema, "SquadPage")
MemberListSchema = Schema.from_dict({"items": fields.List(fields.Nested(MemberSchema), required=True)},
                                    name="SquadMembers")
