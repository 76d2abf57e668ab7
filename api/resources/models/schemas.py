"""A provider's models as the API reads and writes them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import INT_MAX, page_of
from orchestrator.states import ModelStatus, ModelType

PRICE_DOC = {"description": "Per 1,000 tokens; null: unknown (the cost of a call is then null)"}


def _price() -> fields.Float:
    return fields.Float(allow_none=True, validate=validate.Range(0, 10**9), metadata=PRICE_DOC)


class ModelChangeSchema(Schema):
    model_id = fields.String(validate=validate.Length(1, 200),
                             metadata={"description": "The provider's name for it, as sent in requests",
                                       "example": "gpt-4o-mini"})
    name = fields.String(validate=validate.Length(1, 255))
    version = fields.String(allow_none=True, validate=validate.Length(1, 50))
    type = fields.String(validate=validate.OneOf(ModelType.values()))
    context_window = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, INT_MAX))
    max_output_tokens = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, INT_MAX), metadata={
        "description": "Sent as max_tokens to Anthropic when the node's params give none"})
    input_price = _price()
    output_price = _price()
    capabilities = fields.Dict(keys=fields.String())
    status = fields.String(validate=validate.OneOf(ModelStatus.values()),
                           metadata={"description": "Only available models are used"})


class ModelCreateSchema(ModelChangeSchema):
    model_id = fields.String(required=True, validate=validate.Length(1, 200),
                             metadata={"description": "The provider's name for it", "example": "gpt-4o-mini"})
    name = fields.String(validate=validate.Length(1, 255), metadata={"description": "Default: model_id"})
    type = fields.String(load_default=ModelType.CHAT.value, validate=validate.OneOf(ModelType.values()))
    capabilities = fields.Dict(keys=fields.String(), load_default=dict)
    status = fields.String(load_default=ModelStatus.AVAILABLE.value, validate=validate.OneOf(ModelStatus.values()))


class ModelSchema(Schema):
    id = fields.UUID(required=True)
    provider_id = fields.UUID(required=True)
    model_id = fields.String(required=True)
    name = fields.String(required=True)
    version = fields.String(required=True, allow_none=True)
    type = fields.String(required=True)
    context_window = fields.Integer(required=True, allow_none=True)
    max_output_tokens = fields.Integer(required=True, allow_none=True)
    input_price = fields.Float(required=True, allow_none=True, metadata=PRICE_DOC)
    output_price = fields.Float(required=True, allow_none=True, metadata=PRICE_DOC)
    capabilities = fields.Dict(required=True)
    status = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


ModelPageSchema = page_of(ModelSchema, "ModelPage")
