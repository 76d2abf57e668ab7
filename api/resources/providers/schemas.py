"""Model providers as the API reads and writes them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, page_of
from orchestrator.states import ProviderType

TYPE_DOC = {"description": "All but anthropic speak the OpenAI chat-completions protocol; bedrock is not "
                           "supported yet"}


class ProviderChangeSchema(Schema):
    name = fields.String(validate=validate.Length(1, 100),
                         metadata={"description": "What `model: <name>/<model_id>` refers to; unique per owner"})
    type = fields.String(validate=validate.OneOf(ProviderType.values()), metadata=TYPE_DOC)
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    is_active = fields.Boolean()


class ProviderCreateSchema(ProviderChangeSchema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    type = fields.String(required=True, validate=validate.OneOf(ProviderType.values()), metadata=TYPE_DOC)
    is_active = fields.Boolean(load_default=True)


class ProviderQuery(PageQuery):
    type = fields.String(validate=validate.OneOf(ProviderType.values()))


class ProviderSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    is_active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


ProviderPageSchema = page_of(ProviderSchema, "ProviderPage")
