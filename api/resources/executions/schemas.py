"""Executions, their steps and events as the API shows them."""
from __future__ import annotations

from datetime import timezone

from marshmallow import Schema, fields, validate

from api.resources.notifications.schemas import NotifySchema
from api.schemas import INT_MAX, PageQuery, page_of
from orchestrator.services.pagination import MAX_LIMIT
from orchestrator.states import ExecutionStatus, StepStatus

ANY_JSON = {"description": "Any JSON value"}


class SubmitSchema(Schema):
    input = fields.Dict(allow_none=True, metadata={"description": "The workflow's input, a JSON object; default {}"})
    version = fields.Integer(validate=validate.Range(1, INT_MAX),
                             metadata={"description": "Default: the published version, else the latest"})
    notify = fields.Nested(NotifySchema, metadata={
        "description": "A URL told when this execution ends or waits for approval (besides the workflow's)"})


class IdempotencyHeaders(Schema):
    idempotency_key = fields.String(data_key="Idempotency-Key", validate=validate.Length(1, 255), metadata={
        "description": "The same key and body return the first execution; the same key with another body is 409"})


class ExecutionQuery(PageQuery):
    workflow_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(ExecutionStatus.values()))
    search = fields.String(data_key="q", validate=validate.Length(1, 200), metadata={
        "description": "Executions whose id starts with it, whose workflow's name or error contains it (any "
                       "case), or whose status it names"})
    created_from = fields.AwareDateTime(data_key="from", default_timezone=timezone.utc, metadata={
        "description": "Created at or after this instant (ISO 8601; without an offset it is UTC)"})
    created_to = fields.AwareDateTime(data_key="to", default_timezone=timezone.utc, metadata={
        "description": "Created at or before this instant; 422 when before `from`"})


class EventQuery(Schema):
    after = fields.Integer(validate=validate.Range(0, INT_MAX),
                           metadata={"description": "Only events with a greater seq (default: Last-Event-ID, else 0)"})
    limit = fields.Integer(load_default=MAX_LIMIT, validate=validate.Range(1, MAX_LIMIT))


class EventHeaders(Schema):
    last_event_id = fields.Integer(data_key="Last-Event-ID", validate=validate.Range(0, INT_MAX),
                                   metadata={"description": "What an EventSource sends when it reconnects"})


class ExecutionRefSchema(Schema):
    id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ExecutionStatus.values()))


class SubmittedSchema(ExecutionRefSchema):
    notification_secret = fields.String(attribute="key", metadata={
        "description": "With notify: the secret its notifications are signed with"})


class ExecutionSchema(ExecutionRefSchema):
    workflow_id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    trigger = fields.String(required=True)
    input = fields.Raw(required=True, allow_none=True, metadata=ANY_JSON)
    output = fields.Raw(required=True, allow_none=True, metadata=ANY_JSON)
    error = fields.String(required=True, allow_none=True, attribute="error_message")
    created_at = fields.DateTime(required=True)
    started_at = fields.DateTime(required=True, allow_none=True)
    completed_at = fields.DateTime(required=True, allow_none=True)
    duration_ms = fields.Integer(required=True, allow_none=True)
    parent_execution_id = fields.UUID(required=True, allow_none=True,
                                      metadata={"description": "Set on a child of a subworkflow node"})
    total_tokens = fields.Integer(required=True, metadata={"description": "Tokens of its model calls"})
    total_cost = fields.Float(required=True, allow_none=True, metadata={
        "description": "Its model calls' cost plus its squad's price_per_execution; null while no price is known"})


class StepSchema(Schema):
    node_id = fields.String(required=True)
    node_type = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(StepStatus.values()))
    attempt = fields.Integer(required=True)
    turn = fields.Integer(required=True, metadata={"description": "Turns of this attempt so far (a node that "
                                                                  "continues runs again as the next turn)"})
    input = fields.Raw(required=True, allow_none=True,
                       metadata={"description": "The rendered config, secrets masked"})
    output = fields.Raw(required=True, allow_none=True, metadata=ANY_JSON)
    error = fields.String(required=True, allow_none=True, attribute="error_message")
    error_traceback = fields.String(required=True, allow_none=True, metadata={
        "description": "The Python traceback of the last failed attempt, if the node raised an unexpected error"})
    queued_at = fields.DateTime(required=True, allow_none=True)
    started_at = fields.DateTime(required=True, allow_none=True)
    completed_at = fields.DateTime(required=True, allow_none=True)
    duration_ms = fields.Integer(required=True, allow_none=True)


class TurnSchema(Schema):
    number = fields.Integer(required=True, metadata={"description": "0 for the first turn of the attempt"})
    started_at = fields.DateTime(required=True)
    ended_at = fields.DateTime(required=True, allow_none=True)
    duration_ms = fields.Integer(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True, metadata={
        "description": "How the turn ended, as its event says (asked for a tool, called one, waits)"})


class AttemptSchema(Schema):
    node_id = fields.String(required=True)
    attempt = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(StepStatus.values()))
    error = fields.String(required=True, allow_none=True, metadata={
        "description": "Why it failed (a retried attempt: as the retry's event says)"})
    queued_at = fields.DateTime(required=True, allow_none=True)
    started_at = fields.DateTime(required=True, allow_none=True, metadata={"description": "Its first turn's start"})
    ended_at = fields.DateTime(required=True, allow_none=True)
    duration_ms = fields.Integer(required=True, allow_none=True, metadata={
        "description": "From its first turn's start to its end, waits between turns included"})
    turns = fields.List(fields.Nested(TurnSchema), required=True)


class EventSchema(Schema):
    seq = fields.Integer(required=True)
    event_type = fields.String(required=True)
    node_id = fields.String(required=True, allow_none=True)
    attempt = fields.Integer(required=True, allow_none=True)
    message = fields.String(required=True, allow_none=True)
    data = fields.Dict(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class ContextSchema(Schema):
    namespace = fields.String(required=True)
    data = fields.Raw(required=True, metadata=ANY_JSON)
    updated_at = fields.DateTime(required=True)


class MessageSchema(Schema):
    id = fields.UUID(required=True)
    from_node = fields.String(required=True)
    to_node = fields.String(required=True)
    message_type = fields.String(required=True)
    content = fields.Raw(required=True, metadata=ANY_JSON)
    created_at = fields.DateTime(required=True)


ExecutionPageSchema = page_of(ExecutionSchema, "ExecutionPage")
ContextPageSchema = page_of(ContextSchema, "ContextPage", "Always null: one page holds every namespace")
MessagePageSchema = page_of(MessageSchema, "MessagePage")
StepPageSchema = page_of(StepSchema, "StepPage", "Always null: one page holds every step")
AttemptPageSchema = page_of(AttemptSchema, "AttemptPage", "Always null: one page holds every attempt")
EventPageSchema = page_of(EventSchema, "EventPage", "Pass as `after` for the next page; null on the last")
