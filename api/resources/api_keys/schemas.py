"""API keys as the API reads and writes them: never a hash; the key itself only when it is made."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, page_of
from orchestrator.db import ApiKey


class KeyCreateSchema(Schema):
    """A new key of any kind: its name."""

    name = fields.String(required=True, validate=validate.Length(1, 100),
                         metadata={"description": "What the key is for", "example": "laptop"})


class ApiKeyCreateSchema(KeyCreateSchema):
    user_email = fields.Email(validate=validate.Length(max=255), metadata={
        "description": "Admins only: make the key for this user (created if new); default: yourself"})


class ApiKeyQuery(PageQuery):
    every = fields.Boolean(data_key="all", load_default=False,
                           metadata={"description": "Admins only: every user's keys"})


class KeySchema(Schema):
    """What every kind of key shows (an API key's, an app's)."""

    id = fields.UUID(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True, metadata={"description": "The key's first characters, to recognise it"})
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(required=True, allow_none=True)
    revoked_at = fields.DateTime(required=True, allow_none=True,
                                 metadata={"description": "null while the key works"})


class ApiKeySchema(KeySchema):
    user_email = fields.String(required=True, attribute="user.email", metadata={"description": "Whose key it is"})


class ApiKeyCreatedSchema(ApiKeySchema):
    key = fields.String(required=True, metadata={"description": "The key itself, shown only in this answer"})


@dataclass(frozen=True)
class IssuedKey:
    """A key just made, with its plaintext, for ``ApiKeyCreatedSchema``."""

    row: ApiKey
    key: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)


ApiKeyPageSchema = page_of(ApiKeySchema, "ApiKeyPage")
