"""A provider's credentials as the API reads and writes them: the key goes in, never out."""
from __future__ import annotations

from datetime import timezone

from marshmallow import Schema, fields, validate

from api.schemas import INT_MAX, page_of
from orchestrator.services.providers import quota_used_today


def _moment(description: str, **options) -> fields.AwareDateTime:
    return fields.AwareDateTime(default_timezone=timezone.utc, allow_none=True,
                                metadata={"description": f"{description}; ISO 8601, UTC without an offset"}, **options)


KEY_DOC = {"description": "Stored encrypted; answers show only key_hint"}


class _CredentialFields(Schema):
    alias = fields.String(allow_none=True, validate=validate.Length(1, 100))
    secret_key = fields.String(load_only=True, validate=validate.Length(1, 4096),
                               metadata={"description": "Stored encrypted; never shown"})
    expires_at = _moment("Not used from this instant on")
    quota_limit = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, INT_MAX),
                                 metadata={"description": "Requests per day (UTC); null: no limit"})


class CredentialCreateSchema(_CredentialFields):
    api_key = fields.String(required=True, load_only=True, validate=validate.Length(1, 4096), metadata=KEY_DOC)
    is_active = fields.Boolean(load_default=True)


class CredentialChangeSchema(_CredentialFields):
    api_key = fields.String(load_only=True, validate=validate.Length(1, 4096), metadata=KEY_DOC)
    is_active = fields.Boolean()
    cooldown_until = _moment("Not used before this instant (set after a 429, 401 or 403); null clears it")


class CredentialSchema(Schema):
    id = fields.UUID(required=True)
    provider_id = fields.UUID(required=True)
    alias = fields.String(required=True, allow_none=True)
    key_hint = fields.String(required=True, metadata={"description": "The key's last four characters",
                                                       "example": "...abcd"})
    expires_at = fields.DateTime(required=True, allow_none=True)
    quota_limit = fields.Integer(required=True, allow_none=True)
    quota_used = fields.Function(quota_used_today, required=True, metadata={"description": "Requests today (UTC)"})
    is_active = fields.Boolean(required=True)
    last_used_at = fields.DateTime(required=True, allow_none=True)
    cooldown_until = fields.DateTime(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


CredentialPageSchema = page_of(CredentialSchema, "CredentialPage")
