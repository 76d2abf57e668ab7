"""The audit log, licenses and limits as the API shows them (DESIGN section 13)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import INT_MAX, PageQuery, page_of


class AuditQuery(PageQuery):
    action = fields.String(validate=validate.Length(1, 100),
                           metadata={"description": "Only this action, such as execution.cancel"})


class AuditLogSchema(Schema):
    id = fields.UUID(required=True)
    user_id = fields.UUID(required=True, allow_none=True, metadata={"description": "null: the CLI or a token holder"})
    api_key_id = fields.UUID(required=True, allow_none=True)
    app_id = fields.UUID(required=True, allow_none=True,
                         metadata={"description": "The app that acted with its own key (for its owner, user_id)"})
    action = fields.String(required=True, metadata={"example": "workflow.create"})
    object_type = fields.String(required=True)
    object_id = fields.String(required=True, allow_none=True)
    payload = fields.Dict(required=True, allow_none=True,
                          metadata={"description": "What changed, without secrets, inputs or definitions"})
    client_address = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class LicenseCreateSchema(Schema):
    user_email = fields.Email(required=True, metadata={"description": "The user who may run the workflow"})


class LicenseSchema(Schema):
    id = fields.UUID(required=True)
    workflow_id = fields.UUID(required=True)
    user_email = fields.String(required=True, attribute="user.email")
    created_at = fields.DateTime(required=True)


class LimitsSchema(Schema):
    max_executions_per_minute = fields.Integer(
        required=True, allow_none=True, validate=validate.Range(1, INT_MAX),
        metadata={"description": "Submissions per minute; more answer 429 with Retry-After. null: no limit"})
    max_llm_cost_per_day = fields.Float(
        required=True, allow_none=True, validate=validate.Range(0, 10**6),
        metadata={"description": "LLM spend per UTC day; past it an LLM call fails its step with "
                                 "budget_exceeded. null: no limit"})


class UserLimitsSchema(LimitsSchema):
    id = fields.UUID(required=True)
    email = fields.String(required=True)


AuditLogPageSchema = page_of(AuditLogSchema, "AuditLogPage")
LicensePageSchema = page_of(LicenseSchema, "LicensePage")
