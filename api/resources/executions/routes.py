"""Executions: submit, list, read (with steps and events), and cancel, pause, resume, retry."""
from __future__ import annotations

from api.blueprint import Blueprint, conflict, rate_limited
from api.context import engine, keyring, owner, transaction
from api.resources.api_keys.schemas import IssuedKey
from api.errors import ErrorSchema
from api.resources.executions.schemas import (
    AttemptPageSchema, ContextPageSchema, EventHeaders, EventPageSchema, EventQuery, ExecutionPageSchema, ExecutionQuery,
    ExecutionRefSchema, ExecutionSchema, IdempotencyHeaders, MessagePageSchema, StepPageSchema, SubmitSchema,
    SubmittedSchema,
)
from api.schemas import PageQuery
from api.resources.executions.stream import MEDIA_TYPE, event_stream, wants_stream
from orchestrator import engine as control
from orchestrator.services import attempts, executions, notifications
from orchestrator.services.pagination import Page

blp = Blueprint("executions", __name__, description="Runs of a workflow version, their steps and event log")


@blp.route("/workflows/<uuid:workflow_id>/executions", methods=["POST"])
@blp.arguments(SubmitSchema)
@blp.arguments(IdempotencyHeaders, location="headers")
@blp.response(202, SubmittedSchema)
@conflict("the workflow is archived, or the Idempotency-Key was used with another body")
@rate_limited("Over the owner's max_executions_per_minute; Retry-After says when to retry")
def submit(body, headers, workflow_id):
    """Start an execution of the published version, or of a given one"""
    execution, _ = executions.submit(engine(), owner(), workflow_id, **body, **headers)
    if not body.get("notify"):
        return execution
    with transaction() as session:
        return IssuedKey(execution, notifications.execution_secret(session, keyring(), execution.id))


@blp.route("/executions")
@blp.arguments(ExecutionQuery, location="query")
@blp.response(200, ExecutionPageSchema)
def list_executions(query):
    """List executions, newest first, by workflow, status, a search and a range of creation times"""
    with transaction() as session:
        return executions.list_executions(session, owner(), **query)


@blp.route("/executions/<uuid:execution_id>")
@blp.response(200, ExecutionSchema)
def get_execution(execution_id):
    """Get an execution: status, input, output, error, timings"""
    with transaction() as session:
        return executions.get_execution(session, owner(), execution_id)


@blp.route("/executions/<uuid:execution_id>/steps")
@blp.response(200, StepPageSchema)
def steps(execution_id):
    """One row per node: status, attempt, input, output, error, timings"""
    with transaction() as session:
        return executions.list_steps(session, owner(), execution_id)


@blp.route("/executions/<uuid:execution_id>/attempts")
@blp.response(200, AttemptPageSchema)
def list_attempts(execution_id):
    """Every attempt of every step (status, error, timings) and the turns of each, from the event log"""
    with transaction() as session:
        return Page(attempts.list_attempts(session, owner(), execution_id))


@blp.route("/executions/<uuid:execution_id>/children")
@blp.arguments(PageQuery, location="query")
@blp.response(200, ExecutionPageSchema)
def children(query, execution_id):
    """The child executions its subworkflow nodes started, newest first"""
    with transaction() as session:
        return executions.list_children(session, owner(), execution_id, **query)


@blp.route("/executions/<uuid:execution_id>/contexts")
@blp.response(200, ContextPageSchema)
def contexts(execution_id):
    """Its shared contexts, one per namespace (written by context_write, read as context.<namespace>)"""
    with transaction() as session:
        return executions.list_contexts(session, owner(), execution_id)


@blp.route("/executions/<uuid:execution_id>/messages")
@blp.arguments(PageQuery, location="query")
@blp.response(200, MessagePageSchema)
def messages(query, execution_id):
    """Agent-to-agent messages between its nodes, oldest first"""
    with transaction() as session:
        return executions.list_messages(session, owner(), execution_id, **query)


@blp.route("/executions/<uuid:execution_id>/events")
@blp.arguments(EventQuery, location="query")
@blp.arguments(EventHeaders, location="headers")
@blp.response(200, EventPageSchema)
@blp.alt_response(200, success=True, content_type=MEDIA_TYPE, schema={"type": "string"}, description=(
    "With Accept: text/event-stream: `id: <seq>`, `event: <event_type>` and `data: <event JSON>` for each "
    "event, new ones as they happen, until the execution has ended"))
@blp.alt_response(503, schema=ErrorSchema, description="Too many event streams are open in this process; "
                                                        "Retry-After says when to try again")
def events(query, headers, execution_id):
    """The event log after a seq; with Accept: text/event-stream, a live stream"""
    after = query.get("after", headers.get("last_event_id", 0))
    if wants_stream():
        return event_stream(engine(), owner(), execution_id, after)
    with transaction() as session:
        return executions.list_events(session, owner(), execution_id, after=after, limit=query["limit"])


@blp.route("/executions/<uuid:execution_id>/cancel", methods=["POST"])
@blp.response(202, ExecutionRefSchema)
@conflict("the execution has already ended")
def cancel(execution_id):
    """Cancel: open steps are cancelled and running nodes revoked"""
    return executions.act(engine(), owner(), execution_id, control.cancel)


@blp.route("/executions/<uuid:execution_id>/pause", methods=["POST"])
@blp.response(202, ExecutionRefSchema)
@conflict("the execution is not running")
def pause(execution_id):
    """Pause: running nodes finish, nothing new is dispatched"""
    return executions.act(engine(), owner(), execution_id, control.pause)


@blp.route("/executions/<uuid:execution_id>/resume", methods=["POST"])
@blp.response(202, ExecutionRefSchema)
@conflict("the execution is not paused")
def resume(execution_id):
    """Resume a paused execution"""
    return executions.act(engine(), owner(), execution_id, control.resume)


@blp.route("/executions/<uuid:execution_id>/retry", methods=["POST"])
@blp.response(202, ExecutionRefSchema)
@conflict("the execution has not failed")
def retry(execution_id):
    """Retry a failed execution from its failed steps; completed steps keep their results"""
    return executions.act(engine(), owner(), execution_id, control.retry)
