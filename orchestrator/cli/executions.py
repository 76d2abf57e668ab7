"""``orchestrator executions|approvals|schedules``: runs of workflows, the decisions they wait
for and the schedules that start them."""
from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.cli import progress
from orchestrator.cli.client import Client, Row
from orchestrator.cli.remote import Action, command, group, json_arg, listed, rows, said
from orchestrator.cli.tables import table, until, when
from orchestrator.cli.workflows import workflow_label

LIST_ERROR_WIDTH = 40


def _named(action: Action) -> Action:
    """``action``'s page with each item's workflow named, for a table (``--json`` keeps the API's answer)."""
    def named(args: argparse.Namespace, client: Client) -> Row:
        if getattr(args, "workflow", None):
            args.workflow = client.workflow_id(args.workflow)
        page = action(args, client)
        if not args.json:
            names = client.workflow_names(item["workflow_id"] for item in page["items"])
            for item in page["items"]:
                item["workflow"] = workflow_label(item, names)
        return page
    return named


# executions

def _execution_rows(items: list[Row], width: int) -> Table:
    return table("executions", ("id", "workflow", "status", "created", "duration", "error"), [
        [e["id"], e["workflow"], e["status"], when(e["created_at"]),
         f"{e['duration_ms']} ms" if e["duration_ms"] is not None else "", progress.clip(e["error"], LIST_ERROR_WIDTH)]
        for e in items], width)


def _execution_show(args: argparse.Namespace, client: Client) -> Row:
    execution = client.execution(args.execution_id)
    execution["steps"] = client.steps(args.execution_id)
    if not args.traceback:
        for step in execution["steps"]:
            step.pop("error_traceback", None)
    if not args.json:
        execution["workflow"] = workflow_label(execution, client.workflow_names([execution["workflow_id"]]))
    return execution


def _render_execution(console: Console, e: Row) -> None:
    console.print(escape(f"execution {e['id']}: workflow {e['workflow']}, trigger {e['trigger']}, "
                         f"created {when(e['created_at'])}"))
    console.print(progress.step_table(e["steps"], console.width))
    progress.step_errors(e["steps"], console)
    for step in e["steps"]:
        if step.get("error_traceback"):
            console.print(f"[bold]traceback of {escape(step['node_id'])}[/] (attempt {step['attempt']}):")
            console.print(escape(step["error_traceback"].rstrip()), highlight=False)
    progress.summary(e, console, e["steps"])


def _act(resource: str, action: str) -> Action:
    """POST /{resource}s/{id}/{action}, with the id given as the argument ``{resource}_id``."""
    return lambda args, client: client.call("POST", f"/{resource}s/{getattr(args, f'{resource}_id')}/{action}")


# approvals

def _approval_rows(items: list[Row], width: int) -> Table:
    return table("approvals", ("id", "node", "status", "expires", "approver", "execution"), [
        [a["id"], a["node_id"], a["status"], until(a["expires_at"]) if a["status"] == "pending" else "",
         a["approver_email"] or "", a["execution_id"]] for a in items], width)


def _decide(approve: bool) -> Action:
    return lambda args, client: client.decide(args.approval_id, approve, json_arg(args.data, "--data"))


# schedules

def _schedule_rows(items: list[Row], width: int) -> Table:
    return table("schedules", ("id", "workflow", "status", "next run", "cron", "timezone", "last"), [
        [s["id"], s["workflow"], s["status"], until(s["next_run_at"]), f"{s['cron_expression']}: {s['description']}",
         s["timezone"], s["last_execution_status"] or ""] for s in items], width)


def _schedule_create(args: argparse.Namespace, client: Client) -> Row:
    body = {"cron_expression": args.cron, "timezone": args.timezone, "input": json_arg(args.input, "--input")}
    if args.name:
        body["name"] = args.name
    return client.call("POST", f"/workflows/{client.workflow_id(args.workflow)}/schedules", json=body)


def _schedule_said(s: Row) -> str:
    return f"schedule {s['id']}: {s['status']}, next run {until(s['next_run_at']) or '-'}"


def add_commands(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Register the groups; returns ``executions`` (``tail`` joins it)."""
    executions = group(commands, "executions", "runs of workflows")
    command(executions, "list", "list executions, newest first",
            _named(listed("/executions", workflow_id="workflow", status="status")), rows(_execution_rows),
            (("--workflow",), {"help": "a workflow's id or name"}),
            (("--status",), {"help": "pending, running, paused, completed, failed, cancelled, timed_out"}),
            listing=True)
    command(executions, "show", "an execution and its steps", _execution_show, _render_execution,
            (("execution_id",), {}),
            (("--traceback",), {"action": "store_true", "help": "the traceback of each failed step"}))
    for action, help in (("cancel", "cancel: open steps are cancelled"), ("pause", "pause after running steps"),
                         ("resume", "resume a paused execution"), ("retry", "retry a failed execution")):
        command(executions, action, help, _act("execution", action), said(lambda e: f"execution {e['id']}: {e['status']}"),
                (("execution_id",), {}))

    approvals = group(commands, "approvals", "human approvals")
    command(approvals, "list", "list approvals (default: pending ones)",
            lambda a, c: c.page("/approvals", {"status": None if a.status == "all" else a.status}, a.limit, a.cursor),
            rows(_approval_rows),
            (("--status",), {"default": "pending", "choices": ["pending", "approved", "rejected", "expired", "all"]}),
            listing=True)
    for name, approve in (("approve", True), ("reject", False)):
        command(approvals, name, f"{name} a pending approval", _decide(approve),
                said(lambda a: f"approval {a['id']} ({a['node_id']}): {a['status']}"), (("approval_id",), {}),
                (("--data",), {"default": "{}", "help": "decision data as a JSON object"}))

    schedules = group(commands, "schedules", "cron schedules")
    command(schedules, "list", "list schedules with their next run",
            _named(listed("/schedules", workflow_id="workflow")), rows(_schedule_rows),
            (("--workflow",), {"help": "a workflow's id or name"}), listing=True)
    command(schedules, "create", "run a workflow on a cron schedule", _schedule_create, said(_schedule_said),
            (("workflow",), {"help": "its id or name"}),
            (("--cron",), {"required": True, "help": "e.g. '*/5 * * * *' or @daily"}),
            (("--timezone",), {"default": "UTC", "help": "IANA zone (default UTC)"}),
            (("--input",), {"default": "{}", "help": "input of every run as JSON"}), (("--name",), {}))
    for action in ("pause", "resume"):
        command(schedules, action, f"{action} a schedule",
                _act("schedule", action),
                said(_schedule_said), (("schedule_id",), {}))
    return executions
