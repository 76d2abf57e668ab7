"""Console pages of workflows (with the run form built from their input_schema) and schedules
(pause, resume, run now)."""
from __future__ import annotations

import json
import uuid
from typing import Any

from flask import redirect, render_template, request, url_for

from api.console import inputs
from api.console.dag import layout
from api.console.site import PAGE, as_json, blp, names
from api.context import audited, engine, keyring, owner, transaction
from orchestrator.schedules import service as schedules
from orchestrator.schedules.cron import describe
from orchestrator.services import executions, workflows
from orchestrator.services.errors import Invalid


@blp.route("/workflows")
def workflows_page():
    with transaction() as session:
        page = workflows.list_workflows(session, owner(), cursor=request.args.get("cursor") or None, limit=PAGE)
        return render_template("console/workflows.html", page=page)


@blp.route("/workflows/<uuid:workflow_id>")
def workflow_page(workflow_id: uuid.UUID):
    with transaction() as session:
        described = workflows.describe(session, keyring(), owner(), workflow_id)
        versions = workflows.list_versions(session, owner(), workflow_id, limit=100).items
        recent = executions.list_executions(session, owner(), workflow_id=workflow_id, limit=10).items
        return render_template("console/workflow.html", workflow=described, versions=versions, recent=recent,
                               drawing=layout(described.definition), as_json=as_json)


@blp.route("/workflows/<uuid:workflow_id>/publish", methods=["POST"])
def publish(workflow_id: uuid.UUID):
    with transaction() as session:
        workflows.publish(session, owner(), workflow_id, request.form.get("version", type=int))
    return redirect(url_for("console.workflow_page", workflow_id=workflow_id))


# -- the run form ----------------------------------------------------------------------

@blp.route("/workflows/<uuid:workflow_id>/run", methods=["GET", "POST"])
def run(workflow_id: uuid.UUID):
    """GET: the form of the version a run would start (the published one, else the latest).
    POST: start it with the form's input, or the raw JSON; a 422 shows each problem beside
    its field, with what was posted."""
    with transaction() as session:
        workflow = workflows.get_workflow(session, owner(), workflow_id)
        number = workflow.published_version or workflow.latest_version
        version = workflows.describe_version(session, keyring(), owner(), workflow_id, number)
    form = inputs.form_of(version.definition.get("input_schema"))
    shown: dict[str, Any] = {"workflow": workflow, "version": number, "form": form,
                             "schema": version.definition.get("input_schema"), "posted": None, "errors": {},
                             "raw": "{}", "raw_mode": form is None}
    if request.method == "GET":
        return render_template("console/run.html", **shown)
    shown.update(posted=request.form, raw=request.form.get("raw", ""), raw_mode=request.form.get("mode") == "json"
                 or form is None)
    value, problems = _posted_input(form, shown["raw_mode"])
    if not problems:
        try:
            execution, _ = executions.submit(engine(), owner(), workflow_id, value, version=number)
            return redirect(url_for("console.execution_page", execution_id=execution.id))
        except Invalid as exc:
            messages = (exc.errors or {}).get("input") if isinstance(exc.errors, dict) else None
            problems = inputs.beside(None if shown["raw_mode"] else form, messages or [exc.message])
    shown["errors"] = problems
    return render_template("console/run.html", **shown), 422


def _posted_input(form: inputs.Field | None, raw_mode: bool) -> tuple[Any, dict[str, list[str]]]:
    if not raw_mode and form is not None:
        return inputs.read(form, request.form)
    try:
        value = json.loads(request.form.get("raw") or "{}")
    except ValueError as exc:
        return None, {inputs.ROOT: [f"not valid JSON: {exc}"]}
    if not isinstance(value, dict):
        return None, {inputs.ROOT: ["the input must be a JSON object"]}
    return value, {}


# -- schedules -------------------------------------------------------------------------

@blp.route("/schedules")
def schedules_page():
    with transaction() as session:
        page = schedules.list_schedules(session, owner(), limit=PAGE)
        return render_template("console/schedules.html", items=page.items, describe=describe,
                               names=names(session, {s.workflow_id for s in page.items}))


@blp.route("/schedules/<uuid:schedule_id>/<any(pause, resume):action>", methods=["POST"])
def schedule_action(schedule_id: uuid.UUID, action: str):
    change = schedules.pause_schedule if action == "pause" else schedules.resume_schedule
    with transaction() as session:
        audited(session, f"schedule.{action}", change(session, owner(), schedule_id))
    return redirect(url_for("console.schedules_page"))


@blp.route("/schedules/<uuid:schedule_id>/trigger", methods=["POST"])
def trigger(schedule_id: uuid.UUID):
    """Run now: the schedule's workflow once, with its input; then its execution's page."""
    execution = schedules.run_now(engine(), owner(), schedule_id)
    return redirect(url_for("console.execution_page", execution_id=execution.id))
