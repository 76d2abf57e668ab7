"""Webhook triggers as the API shows them; the secret only in the answer that made it."""
from __future__ import annotations

from flask import url_for
from marshmallow import Schema, fields, validate

from api.schemas import page_of
from orchestrator.security.signing import HEADER
from orchestrator.states import ExecutionStatus

# An HTTP header's name (RFC 9110 token), and a dotted path into a JSON body; $ also matches
# before a final newline, which ContainsNoneOf refuses (patterns valid in OpenAPI: no \Z).
HEADER_NAME = [validate.Regexp(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$", error="must be an HTTP header name"),
               validate.ContainsNoneOf(["\n"], error="must be an HTTP header name")]
FIELD_RULE = "must be a dotted path into the JSON body, such as data.id"
FIELD_PATH = [validate.Regexp(r"^[A-Za-z0-9_-]{1,100}(\.[A-Za-z0-9_-]{1,100}){0,9}$", error=FIELD_RULE),
              validate.ContainsNoneOf(["\n"], error=FIELD_RULE)]


class WebhookCreateSchema(Schema):
    name = fields.String(validate=validate.Length(1, 100))
    input_template = fields.Raw(allow_none=True, metadata={"description": (
        "JSON with templates that see `body` (the request's JSON, a form's fields, else its text), `headers` "
        "(names in lower case) and `query`; it must render a JSON object. Default: the body is the input")})
    idempotency_header = fields.String(validate=HEADER_NAME,
                                       metadata={"description": "A header holding the idempotency key"})
    idempotency_field = fields.String(validate=FIELD_PATH, metadata={
        "description": "A body field holding the idempotency key, as a dotted path (data.id)"})
    tolerance_seconds = fields.Integer(strict=True, load_default=300, validate=validate.Range(1, 3600), metadata={
        "description": "How far a signature's timestamp may be from the server's clock"})


class WebhookSchema(Schema):
    id = fields.UUID(required=True)
    workflow_id = fields.UUID(required=True)
    name = fields.String(required=True, allow_none=True)
    url = fields.Function(lambda hook: url_for("webhooks.receive", webhook_id=hook.id, _external=True),
                          required=True, metadata={"description": "Where to POST signed requests (no API key)"})
    signature_header = fields.Function(lambda _: HEADER, required=True, metadata={
        "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>' keyed with the secret>"})
    input_template = fields.Raw(required=True, allow_none=True, metadata={"description": "Null: the body"})
    idempotency_header = fields.String(required=True, allow_none=True)
    idempotency_field = fields.String(required=True, allow_none=True)
    tolerance_seconds = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    last_called_at = fields.DateTime(required=True, allow_none=True)


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(required=True, attribute="key", metadata={
        "description": "The signing secret, in this answer only"})


class HookAcceptedSchema(Schema):
    execution_id = fields.UUID(required=True, attribute="id")
    status = fields.String(required=True, validate=validate.OneOf(ExecutionStatus.values()))


WebhookPageSchema = page_of(WebhookSchema, "WebhookPage")
