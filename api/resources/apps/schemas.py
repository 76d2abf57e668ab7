"""Apps, their keys and licenses as the API reads and writes them: never a key's hash; the
key itself only when it is made."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.resources.api_keys.schemas import KeySchema
from api.schemas import PageQuery, page_of
from orchestrator.states import AppStatus, AuditPolicy

ALIAS_RULE = "must be 1-64 of A-Z a-z 0-9 _ . - starting with a letter or digit"
# $ also matches before a final newline, which ContainsNoneOf refuses.
ALIAS = [validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", error=ALIAS_RULE),
         validate.ContainsNoneOf(["\n"], error=ALIAS_RULE)]


class AppChangeSchema(Schema):
    name = fields.String(validate=validate.Length(1, 255))
    alias_id = fields.String(validate=ALIAS, metadata={"description": "How outside systems name the app; unique "
                                                                      "per owner (default: from the name)"})
    description = fields.String(allow_none=True, validate=validate.Length(max=10_000))
    status = fields.String(validate=validate.OneOf(AppStatus.values()),
                           metadata={"description": "disabled: its keys answer 403 until it is active again"})
    audit_policy = fields.String(validate=validate.OneOf(AuditPolicy.values()), metadata={
        "description": "changes: its submissions are audited (like every change); all: its reads too"})


class AppCreateSchema(AppChangeSchema):
    name = fields.String(required=True, validate=validate.Length(1, 255))


class AppQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(AppStatus.values()))


class AppSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    alias_id = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(AppStatus.values()))
    audit_policy = fields.String(required=True, validate=validate.OneOf(AuditPolicy.values()))
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class AppKeySchema(KeySchema):
    app_id = fields.UUID(required=True)


class AppKeyCreatedSchema(AppKeySchema):
    key = fields.String(required=True, metadata={"description": "The key itself, shown only in this answer"})


class AppLicenseCreateSchema(Schema):
    group_id = fields.UUID(required=True, metadata={"description": "One of your workflow groups"})


class AppLicenseSchema(Schema):
    id = fields.UUID(required=True)
    app_id = fields.UUID(required=True)
    group_id = fields.UUID(required=True)
    group_name = fields.String(required=True, attribute="group.name")
    created_at = fields.DateTime(required=True)


AppPageSchema = page_of(AppSchema, "AppPage")
AppKeyPageSchema = page_of(AppKeySchema, "AppKeyPage")
AppLicensePageSchema = page_of(AppLicenseSchema, "AppLicensePage")
