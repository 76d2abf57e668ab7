"""Console pages: signing in, the executions (a live, searchable list and each execution's
page), approvals, usage and agents. Workflows and schedules are in ``api.console.workflows``."""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

from flask import redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from api.auth import COOKIE, key_of
from api.console.dag import layout
from api.console.site import PAGE, as_json, back, blp, day, names, safe_next, uuid_or_none
from api.context import engine, keyring, owner, transaction
from orchestrator import engine as control
from orchestrator.db.types import utcnow
from orchestrator.services import agents, approvals, attempts, executions, usage, workflows
from orchestrator.services.errors import Invalid
from orchestrator.services.pagination import MAX_LIMIT, Page
from orchestrator.states import EXECUTION_TERMINAL, ApprovalStatus, ExecutionStatus

COOKIE_DAYS = 7
ACTIONS = {"cancel": control.cancel, "pause": control.pause, "resume": control.resume, "retry": control.retry}
# The buttons an execution page offers in each status (the engine still decides: 409 otherwise).
OFFERED = {"pending": ("pause", "cancel"), "running": ("pause", "cancel"), "paused": ("resume", "cancel"),
           "failed": ("retry",)}
# The executions list's time ranges, back from now; "custom" takes from and to.
RANGES = {"1h": ("the last hour", timedelta(hours=1)), "24h": ("the last day", timedelta(days=1)),
          "7d": ("the last week", timedelta(days=7))}


@blp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        key = request.form.get("api_key", "").strip()
        if key_of(key) is not None:
            response = redirect(safe_next(request.args.get("next")))
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


# -- the executions list ---------------------------------------------------------------

def _instant(name: str, problems: dict[str, str]) -> datetime | None:
    text = request.args.get(name) or None
    try:
        when = datetime.fromisoformat(text) if text else None
    except ValueError:
        problems[name] = f"{name}: {text!r} is not a date and time"
        return None
    return when.replace(tzinfo=timezone.utc) if when and when.tzinfo is None else when


def _filters() -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The list's filters from the query string: as the form shows them, as the service takes
    them, and the problems of values it cannot read."""
    args, problems = request.args, dict[str, str]()
    status = args.get("status") if args.get("status") in ExecutionStatus.values() else None
    span = args.get("range") if args.get("range") in (*RANGES, "custom") else ""
    shown = {"q": (args.get("q") or "").strip()[:200], "status": status, "workflow_id": uuid_or_none(args.get("workflow_id")),
             "range": span, "from": args.get("from") or "", "to": args.get("to") or ""}
    taken: dict[str, Any] = {"search": shown["q"] or None, "status": status, "workflow_id": shown["workflow_id"]}
    if span in RANGES:
        taken["created_from"] = utcnow() - RANGES[span][1]
    elif span == "custom":
        taken.update(created_from=_instant("from", problems), created_to=_instant("to", problems))
    return shown, taken, problems


def _page(session: Session, taken: dict[str, Any], problems: dict[str, str]) -> dict[str, Any]:
    """One page of the list, and the names of its workflows."""
    try:
        page = executions.list_executions(session, owner(), cursor=request.args.get("cursor") or None, limit=PAGE,
                                          **taken)
    except Invalid as exc:
        problems.update({name: f"{name}: {', '.join(why)}" for name, why in exc.errors.items()})
        page = Page([])
    return {"page": page, "names": names(session, {e.workflow_id for e in page.items}),
            "matching": any(taken.values())}


@blp.route("/executions")
def executions_page():
    shown, taken, problems = _filters()
    with transaction() as session:
        listed = _page(session, taken, problems)
        choices = workflows.list_workflows(session, owner(), limit=MAX_LIMIT).items
        query, cursor = request.args.to_dict(), listed["page"].next_cursor
        older = cursor and url_for("console.executions_page", **{**query, "cursor": cursor})
        return render_template("console/executions.html", shown=shown, problems=problems, ranges=RANGES,
                               statuses=ExecutionStatus.values(), workflows=_labelled(choices), **listed, older=older,
                               rows=url_for("console.execution_rows", **query), live="cursor" not in query), \
            422 if problems else 200


@blp.route("/executions/rows")
def execution_rows():
    """The list's rows for the same query: what the page's script fetches every few seconds."""
    _, taken, problems = _filters()
    with transaction() as session:
        return render_template("console/execution_rows.html", **_page(session, taken, problems))


def _labelled(choices: list[Any]) -> list[tuple[uuid.UUID, str]]:
    """Workflows by name; two of one name tell themselves apart by the start of their id."""
    seen = Counter(w.name for w in choices)
    return sorted(((w.id, w.name if seen[w.name] == 1 else f"{w.name} ({str(w.id)[:8]})") for w in choices),
                  key=lambda pair: pair[1].lower())


# -- one execution ---------------------------------------------------------------------

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
        return render_template("console/execution.html", execution=execution, events=events,
                               workflow=version.workflow, drawing=drawing, approvals=waiting,
                               ended=execution.status in EXECUTION_TERMINAL, as_json=as_json,
                               actions=OFFERED.get(execution.status, ()), **_growing(session, execution_id, steps))


@blp.route("/executions/<uuid:execution_id>/growing")
def execution_growing(execution_id: uuid.UUID):
    """The parts of the execution page that grow while it runs (totals, steps' attempts and
    turns, model calls), which its script fetches again as steps record turns."""
    with transaction() as session:
        steps = executions.list_steps(session, owner(), execution_id).items
        return render_template("console/growing.html", execution=executions.get_execution(session, owner(), execution_id),
                               as_json=as_json, **_growing(session, execution_id, steps))


def _growing(session: Session, execution_id: uuid.UUID, steps: list[Any]) -> dict[str, Any]:
    """The steps with their attempts, and the newest calls (as many as the API gives in a
    page) in the order they were made, counted by node, attempt and turn."""
    page = usage.list_calls(session, owner(), execution_id, limit=MAX_LIMIT)
    tried: dict[str, list[attempts.Attempt]] = {}
    for attempt in attempts.list_attempts(session, owner(), execution_id):
        tried.setdefault(attempt.node_id, []).append(attempt)
    return {"steps": steps, "attempts": tried, "more_calls": page.next_cursor is not None,
            "calls": sorted(page.items, key=lambda c: (c.created_at, c.node_id, c.attempt, c.turn, c.seq)),
            "calls_by_turn": Counter((c.node_id, c.attempt, c.turn) for c in page.items)}


@blp.route("/executions/<uuid:execution_id>/<any(cancel, pause, resume, retry):action>", methods=["POST"])
def execution_action(execution_id: uuid.UUID, action: str):
    executions.act(engine(), owner(), execution_id, ACTIONS[action])
    return redirect(url_for("console.execution_page", execution_id=execution_id))


@blp.route("/approvals/<uuid:approval_id>/<any(approve, reject):decision>", methods=["POST"])
def decide(approval_id: uuid.UUID, decision: str):
    approvals.decide(engine(), decision == "approve", {"decided_by": "console"}, approval_id=approval_id, owner=owner())
    return redirect(safe_next(request.form.get("next")))


@blp.route("/approvals")
def approvals_page():
    with transaction() as session:
        page = approvals.list_approvals(session, owner(), status=ApprovalStatus.PENDING, limit=PAGE)
        return render_template("console/approvals.html", items=page.items)


# -- usage and agents ------------------------------------------------------------------

@blp.route("/usage")
def usage_page() -> str | tuple[str, int]:
    chosen = {"provider": request.args.get("provider") or None, "model": request.args.get("model") or None}
    try:
        start, end = usage.window(day(request.args.get("from")), day(request.args.get("to")))
        with transaction() as session:
            rows = usage.usage(session, owner(), start, end, "day_model", **chosen).items
    except Invalid as exc:
        return back(url_for("console.usage_page"), str(exc), 422)
    days: dict[date, dict[str, Any]] = {}           # the chart's bars, summed from the rows
    for row in rows:
        totals = days.setdefault(row["day"], {"requests": 0, "cost": None})
        totals["requests"] += row["requests"]
        if row["cost"] is not None:                  # an unknown price adds nothing, as in SQL's sum
            totals["cost"] = (totals["cost"] or 0) + row["cost"]
    costs = [d["cost"] for d in days.values() if d["cost"] is not None]
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
        problems = {agent.id: agents.problems(session, owner(), agent) for agent in pages["agents"].items}
        return render_template("console/agents.html", pages=pages, problems=problems)
