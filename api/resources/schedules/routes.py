"""Cron schedules: each due slot starts an execution of the workflow (trigger ``schedule``)."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint, conflict, rate_limited
from api.context import audited, engine, keyring, owner, transaction
from api.errors import ErrorSchema
from api.resources.executions.schemas import ExecutionRefSchema
from api.resources.schedules.schemas import (
    ScheduleChangeSchema, ScheduleCreateSchema, SchedulePageSchema, ScheduleQuery, ScheduleSchema,
)
from orchestrator.schedules import service as schedules
from orchestrator.services import audit

blp = Blueprint("schedules", __name__, description="Cron schedules that start executions")


@blp.route("/workflows/<uuid:workflow_id>/schedules", methods=["POST"])
@blp.arguments(ScheduleCreateSchema)
@blp.response(201, ScheduleSchema)
@conflict("the workflow is archived")
def create(body, workflow_id):
    """Run a workflow on a cron schedule in a time zone; 422 names a bad expression or zone"""
    with transaction() as session:
        return audited(session, "schedule.create", schedules.create_schedule(session, keyring(), owner(), workflow_id,
                                                                            **body))


@blp.route("/schedules")
@blp.arguments(ScheduleQuery, location="query")
@blp.response(200, SchedulePageSchema)
def list_schedules(query):
    """List schedules, newest first"""
    with transaction() as session:
        return schedules.list_schedules(session, owner(), **query)


@blp.route("/schedules/<uuid:schedule_id>")
class Schedule(MethodView):
    @blp.response(200, ScheduleSchema)
    def get(self, schedule_id):
        """Get a schedule with its next run and its last outcome"""
        with transaction() as session:
            return schedules.get_schedule(session, owner(), schedule_id)

    @blp.arguments(ScheduleChangeSchema)
    @blp.response(200, ScheduleSchema)
    def patch(self, body, schedule_id):
        """Change a schedule; a new timing counts from now"""
        with transaction() as session:
            return audited(session, "schedule.update",
                           schedules.update_schedule(session, keyring(), owner(), schedule_id, **body))

    @blp.response(204)
    def delete(self, schedule_id):
        """Delete a schedule; its executions keep their history"""
        with transaction() as session:
            schedules.delete_schedule(session, owner(), schedule_id)
            audit.record(session, "schedule.delete", "schedule", schedule_id)


@blp.route("/schedules/<uuid:schedule_id>/pause", methods=["POST"])
@blp.response(200, ScheduleSchema)
def pause(schedule_id):
    """Stop firing until resumed"""
    with transaction() as session:
        return audited(session, "schedule.pause", schedules.pause_schedule(session, owner(), schedule_id))


@blp.route("/schedules/<uuid:schedule_id>/resume", methods=["POST"])
@blp.response(200, ScheduleSchema)
def resume(schedule_id):
    """Fire again from now on (missed slots are not caught up), with the failure count reset"""
    with transaction() as session:
        return audited(session, "schedule.resume", schedules.resume_schedule(session, owner(), schedule_id))


@blp.route("/schedules/<uuid:schedule_id>/trigger", methods=["POST"])
@blp.response(202, ExecutionRefSchema)
@conflict("the workflow is archived")
@blp.alt_response(422, schema=ErrorSchema, description="The schedule's input no longer fits the workflow's "
                                                       "input_schema; errors.input names each problem")
@rate_limited("Over the owner's max_executions_per_minute; Retry-After says when to retry")
def trigger(schedule_id):
    """Run the schedule's workflow once now with its input (trigger schedule, also while paused); its outcome is
    recorded like a fired slot's"""
    return schedules.run_now(engine(), owner(), schedule_id)
