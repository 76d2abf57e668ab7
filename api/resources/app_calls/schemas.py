"""What an app sees: the workflows it may run, and its executions."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import PageQuery, page_of
from orchestrator.services.app_calls import APP_IDEMPOTENCY_KEY_MAX
from orchestrator.states import ExecutionStatus


class AppWorkflowSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    group_id = fields.UUID(required=True)
    version = fields.Integer(required=True, attribute="published_version",
                             metadata={"description": "The published version, which the app's executions run"})
    released_at = fields.DateTime(required=True, allow_none=True, attribute="published_at",
                                  metadata={"description": "When that version was published"})


class AppSubmitSchema(Schema):
    input = fields.Dict(allow_none=True, metadata={"description": "The workflow's input, a JSON object; default {}"})


class AppIdempotencyHeaders(Schema):
    idempotency_key = fields.String(data_key="Idempotency-Key", validate=validate.Length(1, APP_IDEMPOTENCY_KEY_MAX),
                                    metadata={"description": "The same key and body return the first execution; "
                                                             "the same key with another body is 409"})


class AppExecutionQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(ExecutionStatus.values()))


AppWorkflowPageSchema = page_of(AppWorkflowSchema, "AppWorkflowPage")
