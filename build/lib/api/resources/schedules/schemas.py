"""Schedules as the API reads and writes them."""
from __future__ import annotations

from datetime import timezone

from marshmallow import Schema, fields, validate

from api.schemas import INT_MAX, PageQuery, page_of
from orchestrator.schedules.cron import describe
from orchestrator.states import ExecutionStatus, MisfirePolicy, ScheduleStatus

CRON_DOC = {"description": "5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, "
                           "or an alias (@hourly, @daily, @weekly, @monthly, @yearly), matched against the "
                           "wall clock of `timezone`", "example": "30 1 * * *"}
WHEN_DOC = "ISO 8601; without an offset it is UTC"


def _moment(description: str) -> fields.AwareDateTime:
    return fields.AwareDateTime(default_timezone=timezone.utc, allow_none=True, metadata={"description": description})


class ScheduleChangeSchema(Schema):
    """Every field of a schedule; a PATCH sends those it changes."""

    name = fields.String(allow_none=True, validate=validate.Length(1, 255))
    cron_expression = fields.String(validate=validate.Length(1, 255), metadata=CRON_DOC)
    timezone = fields.String(validate=validate.Length(1, 64),
                             metadata={"description": "An IANA time zone; default UTC", "example": "America/New_York"})
    input = fields.Raw(allow_none=True, metadata={"description": "The input of every run, any JSON; default {}"})
    start_at = _moment(f"No run before this instant; {WHEN_DOC}")
    end_at = _moment(f"No run after this instant; {WHEN_DOC}")
    misfire_policy = fields.String(validate=validate.OneOf(MisfirePolicy.values()), metadata={
        "description": "After downtime: run_once (default) runs the latest missed slot once, skip runs none"})
    max_retries = fields.Integer(validate=validate.Range(0, INT_MAX), metadata={
        "description": "Consecutive failed runs after which the schedule pauses itself (default 3; 0: never)"})


class ScheduleCreateSchema(ScheduleChangeSchema):
    cron_expression = fields.String(required=True, validate=validate.Length(1, 255), metadata=CRON_DOC)


class ScheduleQuery(PageQuery):
    workflow_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(ScheduleStatus.values()))


class ScheduleSchema(Schema):
    id = fields.UUID(required=True)
    workflow_id = fields.UUID(required=True)
    name = fields.String(required=True, allow_none=True)
    cron_expression = fields.String(required=True)
    timezone = fields.String(required=True)
    description = fields.Function(lambda schedule: describe(schedule.cron_expression, schedule.timezone),
                                  required=True, metadata={"description": "The cron expression in words"})
    status = fields.String(required=True, validate=validate.OneOf(ScheduleStatus.values()))
    paused_reason = fields.String(required=True, allow_none=True)
    input = fields.Raw(required=True, metadata={"description": "Any JSON value"})
    start_at = fields.DateTime(required=True, allow_none=True)
    end_at = fields.DateTime(required=True, allow_none=True)
    misfire_policy = fields.String(required=True, validate=validate.OneOf(MisfirePolicy.values()))
    max_retries = fields.Integer(required=True)
    consecutive_failures = fields.Integer(required=True)
    next_run_at = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "null while paused or once the window has closed"})
    last_execution_at = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "When the last run ended (or failed to start)"})
    last_execution_status = fields.String(required=True, allow_none=True,
                                          validate=validate.OneOf(ExecutionStatus.values()))
    last_error_message = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


SchedulePageSchema = page_of(ScheduleSchema, "SchedulePage")
