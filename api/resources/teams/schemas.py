"""Teams as the API reads and writes them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, page_of
from orchestrator.states import TeamStatus

TOPOLOGY_DOC = {"description": "{type: sequential|round_robin|supervisor, members: [{name, agent}], "
                               "supervisor?: {model, instructions}, squad_id?, terminate_on?: \"TERMINATE\"}; "
                               "a member's agent is an agent's name or an inline {model, instructions, tools}"}


class TeamChangeSchema(Schema):
    name = fields.String(validate=validate.Length(1, 255))
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    topology_config = fields.Dict(metadata=TOPOLOGY_DOC)
    status = fields.String(validate=validate.OneOf(TeamStatus.values()))
    timeout_seconds = fields.Integer(strict=True, validate=validate.Range(1, 86_400),
                                     metadata={"description": "Bounds the whole team"})
    max_iterations = fields.Integer(strict=True, validate=validate.Range(1, 1000))


class TeamCreateSchema(TeamChangeSchema):
    name = fields.String(required=True, validate=validate.Length(1, 255))
    topology_config = fields.Dict(required=True, metadata=TOPOLOGY_DOC)
    status = fields.String(load_default=TeamStatus.ACTIVE.value, validate=validate.OneOf(TeamStatus.values()))
    timeout_seconds = fields.Integer(strict=True, load_default=300, validate=validate.Range(1, 86_400))
    max_iterations = fields.Integer(strict=True, load_default=50, validate=validate.Range(1, 1000))


class TeamQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(TeamStatus.values()))


class TeamSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    topology_config = fields.Dict(required=True)
    status = fields.String(required=True)
    timeout_seconds = fields.Integer(required=True)
    max_iterations = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


TeamPageSchema = page_of(TeamSchema, "TeamPage")
