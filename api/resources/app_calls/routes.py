"""What an app calls with its own key (``Authorization: Bearer orkapp_…``): the published
workflows of the groups it is licensed for, and the executions it started. A user's key is
refused here (403), and an app's key everywhere else."""
from __future__ import annotations

from api.auth import app_only
from api.blueprint import Blueprint, conflict, rate_limited
from api.context import app, engine, transaction
from api.resources.app_calls.schemas import (
    AppExecutionQuery, AppIdempotencyHeaders, AppSubmitSchema, AppWorkflowPageSchema,
)
from api.resources.executions.schemas import ExecutionPageSchema, ExecutionRefSchema, ExecutionSchema
from api.schemas import PageQuery
from orchestrator.services import app_calls

blp = Blueprint("app_calls", __name__, description="For apps, with an app key: run licensed workflows, read the "
                                                    "executions they started")
FORBIDDEN = {"403": {"description": "A user's key, a disabled app, or a workflow the app is not licensed for",
                     "content": {"application/json": {"schema": "Error"}}}}


@blp.route("/app/workflows")
@app_only
@blp.arguments(PageQuery, location="query")
@blp.response(200, AppWorkflowPageSchema)
@blp.doc(responses=FORBIDDEN)
def list_workflows(query):
    """The published workflows of the groups the app is licensed for, newest first"""
    with transaction() as session:
        return app_calls.list_workflows(session, app(), **query)


@blp.route("/app/workflows/<uuid:workflow_id>/executions", methods=["POST"])
@app_only
@blp.arguments(AppSubmitSchema)
@blp.arguments(AppIdempotencyHeaders, location="headers")
@blp.response(202, ExecutionRefSchema)
@conflict("the workflow is not published, or the Idempotency-Key was used with another body")
@rate_limited("Over the owner's max_executions_per_minute (an app's runs count as its owner's); Retry-After says "
              "when to retry")
@blp.doc(responses=FORBIDDEN)
def submit(body, headers, workflow_id):
    """Start an execution of a licensed workflow's published version"""
    execution, _ = app_calls.submit(engine(), app(), workflow_id, **body, **headers)
    return execution


@blp.route("/app/executions")
@app_only
@blp.arguments(AppExecutionQuery, location="query")
@blp.response(200, ExecutionPageSchema)
@blp.doc(responses=FORBIDDEN)
def list_executions(query):
    """The executions the app started, newest first"""
    with transaction() as session:
        return app_calls.list_executions(session, app(), **query)


@blp.route("/app/executions/<uuid:execution_id>")
@app_only
@blp.response(200, ExecutionSchema)
@blp.doc(responses=FORBIDDEN)
def get_execution(execution_id):
    """One execution the app started: status, output, error, timings"""
    with transaction() as session:
        return app_calls.get_execution(session, app(), execution_id)
