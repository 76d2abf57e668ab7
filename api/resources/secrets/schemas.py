"""Secrets as the API reads and writes them: a value goes in, only names and times come out."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import page_of
from orchestrator.secrets import NAME_PATTERN


class SecretSetSchema(Schema):
    name = fields.String(required=True, validate=validate.Regexp(
        NAME_PATTERN, error="letters, digits and _, not starting with a digit, at most 100 characters"),
        metadata={"description": "Templates read it as {{ secrets.NAME }}", "example": "GITHUB_TOKEN"})
    value = fields.String(required=True, load_only=True, validate=validate.Length(1, 65536), metadata={
        "description": "Stored encrypted; never returned"})


class SecretSchema(Schema):
    name = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


SecretPageSchema = page_of(SecretSchema, "SecretPage")
