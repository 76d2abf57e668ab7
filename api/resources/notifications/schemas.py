"""Notification targets and deliveries as the API shows them; a secret only in the answer that made it."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.schemas import page_of
from orchestrator.security.network import SCHEMES
from orchestrator.states import DeliveryStatus, NotificationEvent

EVENTS = {"description": "Which to send: " + ", ".join(NotificationEvent.values()) + " (default: all)"}


class NotifySchema(Schema):
    url = fields.Url(required=True, schemes=set(SCHEMES), require_tld=False, validate=validate.Length(max=2000),
                     metadata={"description": "POSTed a signed JSON body; the address rule applies"})
    events = fields.List(fields.String(validate=validate.OneOf(NotificationEvent.values())),
                         validate=validate.Length(min=1), metadata=EVENTS)


class TargetSchema(Schema):
    id = fields.UUID(required=True)
    workflow_id = fields.UUID(required=True, allow_none=True)
    url = fields.String(required=True, metadata={"description": "Without its user info and query string"})
    events = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)


class TargetCreatedSchema(TargetSchema):
    secret = fields.String(required=True, attribute="key", metadata={
        "description": "The secret its bodies are signed with (Orchestrator-Signature), in this answer only"})


class DeliverySchema(Schema):
    id = fields.UUID(required=True)
    target_id = fields.UUID(required=True)
    event = fields.String(required=True, validate=validate.OneOf(NotificationEvent.values()))
    event_seq = fields.Integer(required=True, metadata={"description": "The execution event it tells of"})
    status = fields.String(required=True, validate=validate.OneOf(DeliveryStatus.values()))
    attempts = fields.Integer(required=True)
    last_status_code = fields.Integer(required=True, allow_none=True, metadata={"description": "The receiver's"})
    last_error = fields.String(required=True, allow_none=True)
    next_attempt_at = fields.DateTime(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(required=True, allow_none=True)
    payload = fields.Dict(required=True, metadata={"description": "The body sent"})


TargetPageSchema = page_of(TargetSchema, "NotificationTargetPage")
DeliveryPageSchema = page_of(DeliverySchema, "NotificationDeliveryPage")
