"""Workflow templates as the API reads and writes them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, page_of


class TemplateCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 255))
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    category = fields.String(allow_none=True, validate=validate.Length(1, 100))
    definition = fields.Dict(required=True, metadata={"description": "A workflow definition"})


class TemplateQuery(PageQuery):
    category = fields.String(validate=validate.Length(1, 100))


class InstantiateSchema(Schema):
    name = fields.String(validate=validate.Length(1, 255), metadata={"description": "Default: the template's"})


class TemplateSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    category = fields.String(required=True, allow_none=True)
    definition = fields.Dict(required=True)
    is_builtin = fields.Boolean(required=True, metadata={"description": "Shipped with Orchestrator"})
    usage_count = fields.Integer(required=True, metadata={"description": "Workflows made from it"})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class InstantiatedSchema(Schema):
    id = fields.UUID(required=True, metadata={"description": "The new workflow's id"})
    name = fields.String(required=True)
    status = fields.String(required=True)
    latest_version = fields.Integer(required=True)


TemplatePageSchema = page_of(TemplateSchema, "TemplatePage")
