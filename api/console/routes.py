"""Console pages. A login form takes an API key and keeps it in an HttpOnly, SameSite=Strict
cookie; every page authenticates it as the API does. Forms that change something post to
the console itself and must come from the same origin."""
from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from api.auth import COOKIE, key_of
from api.console.dag import layout
from api.context import engine, keyring, owner, transaction
from orchestrator import engine as control
from orchestrator.schedules import service as schedules
from orchestrator.schedules.cron import describe
from orchestrator.services import agents, approvals, executions, usage, workflows
from orchestrator.engine import NotAllowed, Unknown
from orchestrator.services.errors import DomainError, NotFound
from orchestrator.services.pagination import MAX_LIMIT
from orchestrator.states import EXECUTION_TERMINAL, ApprovalStatus, ExecutionStatus

blp = Blueprint("console", __name__, url_prefix="/ui", template_folder="templates", static_folder="static")
PAGE = 50
COOKIE_DAYS = 7
ACTIONS = {"cancel": control.cancel, "pause": control.pause, "resume": control.resume, "retry": control.retry}
# The buttons an execution page offers in each status (the engine still decides: 409 otherwise).
OFFERED = {"pending": ("pause", "cancel"), "running": ("pause", "cancel"), "paused": ("resume", "cancel"),
           "failed": ("retry",)}


@blp.before_request
def _signed_in() -> Response | None:
    if request.endpoint in ("console.login", "console.static"):
        return None
    if request.method == "POST" and not _same_origin():
        abort(403)
    found = key_of(request.cookies.get(COOKIE))
    if found is None:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    g.owner = found.user
    return None


def _same_origin() -> bool:
    """A form post from this site (browsers send Origin on POST; Referer as a fallback)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    return bool(source) and urlsplit(source).netloc == request.host


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never another site."""
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return url_for("console.executions_page")


@blp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        if not _same_origin():
            abort(403)
        key = request.form.get("api_key", "").strip()
        if key_of(key) is not None:
            response = redirect(_safe_next(request.args.get("next")))
            response.set_cookie(COOKIE, key, max_age=COOKIE_DAYS * 86400, httponly=True, samesite="Strict",
                                secure=request.is_secure, path="/")
            return response
        error = "That API key is not valid (or has been revoked)."
    return render_template("console/login.html", error=error), 401 if error else 200


@blp.route("/logout", methods=["POST"])
def logout():
    response = redirect(url_for("console.login"))
    response.delete_cookie(COOKIE, path="/")
    return response


@blp.route("/")
def home():
    return redirect(url_for("console.executions_page"))


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _names(session: Session, workflow_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    return {wid: workflows.get_workflow(session, owner(), wid).name for wid in workflow_ids}


@blp.route("/executions")
def executions_page():
    status = request.args.get("status") or None
    status = status if status in ExecutionStatus.values() else None
    workflow_id = _uuid(request.args.get("workflow_id"))
    with transaction() as session:
        page = executions.list_executions(session, owner(), workflow_id=workflow_id, status=status,
                                          cursor=request.args.get("cursor") or None, limit=PAGE)
        names = _names(session, {e.workflow_id for e in page.items})
        return render_template("console/executions.html", page=page, names=names, status=status,
                               workflow_id=workflow_id, statuses=ExecutionStatus.values())


@blp.route("/executions/<uuid:execution_id>")
def execution_page(execution_id: uuid.UUID):
    with transaction() as session:
        execution = executions.get_execution(session, owner(), execution_id)
        steps = executions.list_steps(session, owner(), execution_id).items
        events = executions.list_events(session, owner(), execution_id, limit=1000).items
        version = workflows.describe_version(session, keyring(), owner(), execution.workflow_id, execution.version)
        waiting = [a for a in approvals.list_approvals(session, owner(), status=ApprovalStatus.PENDING, limit=100).items
                   if a.execution_id == execution_id]
        drawing = layout(version.definition, {step.node_id: step.status for step in steps})
        return render_template("console/execution.html", execution=execution, steps=steps, events=events,
                               workflow=version.workflow, drawing=drawing, approvals=waiting,
                               ended=execution.status in EXECUTION_TERMINAL, as_json=_pretty,
                               actions=OFFERED.get(execution.status, ()), **_calls(session, execution_id))


@blp.route("/executions/<uuid:execution_id>/calls")
def execution_calls(execution_id: uuid.UUID):
    """The execution page's totals and calls, which its script fetches again as steps record turns."""
    with transaction() as session:
        return render_template("console/calls.html", execution=executions.get_execution(session, owner(), execution_id),
                               as_json=_pretty, **_calls(session, execution_id))


def _calls(session: Session, execution_id: uuid.UUID) -> dict[str, Any]:
    """The newest calls (as many as the API gives in a page), in the order they were made."""
    page = usage.list_calls(session, owner(), execution_id, limit=MAX_LIMIT)
    return {"calls": sorted(page.items, key=lambda c: (c.created_at, c.node_id, c.attempt, c.turn, c.seq)),
            "more_calls": page.next_cursor is not None}


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@blp.route("/executions/<uuid:execution_id>/<any(cancel, pause, resume, retry):action>", methods=["POST"])
def execution_action(execution_id: uuid.UUID, action: str):
    try:
        executions.act(engine(), owner(), execution_id, ACTIONS[action])
    except (DomainError, NotAllowed) as exc:
        return _back(url_for("console.execution_page", execution_id=execution_id), str(exc))
    return redirect(url_for("console.execution_page", execution_id=execution_id))


@blp.route("/approvals/<uuid:approval_id>/<any(approve, reject):decision>", methods=["POST"])
def decide(approval_id: uuid.UUID, decision: str):
    back = _safe_next(request.form.get("next"))
    try:
        approvals.decide(engine(), decision == "approve", {"decided_by": "console"}, approval_id=approval_id,
                         owner=owner())
    except (DomainError, NotAllowed) as exc:
        return _back(back, str(exc))
    return redirect(back)


@blp.errorhandler(NotFound)
@blp.errorhandler(Unknown)
def _not_found(exc: Exception) -> tuple[str, int]:
    return render_template("console/message.html", title="Not found", message=str(exc),
                           back=url_for("console.home")), 404


def _back(target: str, message: str, status: int = 409) -> tuple[str, int]:
    return render_template("console/message.html", message=message, back=target), status


@blp.route("/approvals")
def approvals_page():
    with transaction() as session:
        page = approvals.list_approvals(session, owner(), status=ApprovalStatus.PENDING, limit=PAGE)
        return render_template("console/approvals.html", items=page.items)


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
                               drawing=layout(described.definition), as_json=_pretty)


@blp.route("/workflows/<uuid:workflow_id>/publish", methods=["POST"])
def publish(workflow_id: uuid.UUID):
    back = url_for("console.workflow_page", workflow_id=workflow_id)
    try:
        with transaction() as session:
            workflows.publish(session, owner(), workflow_id, int(request.form.get("version", "0")) or None)
    except DomainError as exc:
        return _back(back, str(exc))
    return redirect(back)


@blp.route("/schedules")
def schedules_page():
    with transaction() as session:
        page = schedules.list_schedules(session, owner(), limit=PAGE)
        names = _names(session, {s.workflow_id for s in page.items})
        return render_template("console/schedules.html", items=page.items, names=names, describe=describe)


@blp.route("/usage")
def usage_page() -> str | tuple[str, int]:
    start, end = usage.window(_day(request.args.get("from")), _day(request.args.get("to")))
    chosen = {"provider": request.args.get("provider") or None, "model": request.args.get("model") or None}
    try:
        with transaction() as session:
            rows = usage.usage(session, owner(), start, end, "day_model", **chosen).items
    except DomainError as exc:
        return _back(url_for("console.usage_page"), str(exc), 422)
    days: dict[date, dict[str, Any]] = {}           # the chart's bars, summed from the rows
    for row in rows:
        day = days.setdefault(row["day"], {"requests": 0, "cost": None})
        day["requests"] += row["requests"]
        if row["cost"] is not None:                  # an unknown price adds nothing, as in SQL's sum
            day["cost"] = (day["cost"] or 0) + row["cost"]
    costs = [day["cost"] for day in days.values() if day["cost"] is not None]
    totals = {name: sum(row[name] for row in rows)
              for name in ("requests", "prompt_tokens", "completion_tokens", "total_tokens")}
    totals["cost"] = sum(costs) if costs else None
    chart = [(start + timedelta(days=i), days.get(start + timedelta(days=i))) for i in range((end - start).days + 1)]
    choices = {name: sorted({row[name] for row in rows}.union([value] if value else [])) for name, value in chosen.items()}
    return render_template("console/usage.html", rows=rows, totals=totals, chart=chart, most=max(costs, default=0),
                           start=start, end=end, chosen=chosen, choices=choices)


@blp.route("/agents")
def agents_page():
    with transaction() as session:
        pages = {"agents": agents.list_agents(session, owner(), limit=PAGE),
                 "tools": agents.list_tools(session, owner(), limit=PAGE),
                 "teams": agents.list_teams(session, owner(), limit=PAGE)}
        return render_template("console/agents.html", pages=pages)
