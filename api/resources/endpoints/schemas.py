"""A provider's endpoints as the API reads and writes them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import page_of
from orchestrator.security.network import SCHEMES


BASE_URL_DOC = {"description": "e.g. https://api.openai.com/v1 or https://api.anthropic.com; a private address "
                               "needs ORCHESTRATOR_LLM_ALLOW_PRIVATE=1", "example": "https://api.openai.com/v1"}


def _base_url(**options) -> fields.Url:
    return fields.Url(schemes=set(SCHEMES), require_tld=False, validate=validate.Length(max=2048),
                      metadata=BASE_URL_DOC, **options)


class EndpointChangeSchema(Schema):
    name = fields.String(validate=validate.Length(1, 100))
    base_url = _base_url()
    api_version = fields.String(allow_none=True, validate=validate.Length(1, 50),
                                metadata={"description": "Sent as the api-version query parameter (Azure)"})
    region = fields.String(allow_none=True, validate=validate.Length(1, 50))
    timeout_connect = fields.Float(validate=validate.Range(0.1, 600), metadata={"description": "Seconds"})
    timeout_read = fields.Float(validate=validate.Range(0.1, 3600), metadata={"description": "Seconds"})
    retry_count = fields.Integer(strict=True, validate=validate.Range(0, 10),
                                 metadata={"description": "Retries after a 5xx, a timeout or a connection error"})
    is_default = fields.Boolean(metadata={"description": "Calls use the provider's default active endpoint; "
                                                         "making one default unsets the others"})
    is_active = fields.Boolean()


class EndpointCreateSchema(EndpointChangeSchema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    base_url = _base_url(required=True)
    timeout_connect = fields.Float(load_default=10.0, validate=validate.Range(0.1, 600))
    timeout_read = fields.Float(load_default=60.0, validate=validate.Range(0.1, 3600))
    retry_count = fields.Integer(strict=True, load_default=3, validate=validate.Range(0, 10))
    is_default = fields.Boolean(load_default=False, metadata={"description": "A provider's first endpoint is "
                                                                             "its default anyway"})
    is_active = fields.Boolean(load_default=True)


class EndpointSchema(Schema):
    id = fields.UUID(required=True)
    provider_id = fields.UUID(required=True)
    name = fields.String(required=True)
    base_url = fields.String(required=True)
    api_version = fields.String(required=True, allow_none=True)
    region = fields.String(required=True, allow_none=True)
    timeout_connect = fields.Float(required=True)
    timeout_read = fields.Float(required=True)
    retry_count = fields.Integer(required=True)
    is_default = fields.Boolean(required=True)
    is_active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


EndpointPageSchema = page_of(EndpointSchema, "EndpointPage")
