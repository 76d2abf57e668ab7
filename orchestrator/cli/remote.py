"""The CLI's resource commands: workflows, executions, approvals, schedules and secrets over the
REST API (``--url``/``--api-key``, else ORCHESTRATOR_URL/ORCHESTRATOR_API_KEY, else the local
``orchestrator standalone``). Tables for people, ``--json`` for scripts."""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator import progress
from orchestrator.client import Client
from orchestrator.config import get_settings
from orchestrator.services.errors import DomainError
from orchestrator.standalone import DEFAULT_PORT, saved_api_key

DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
LIST_ERROR_WIDTH = 40

Row = dict[str, Any]


def connect(args: argparse.Namespace) -> Client:
    """The API named by the flags or the environment, else the local standalone one."""
    url = args.url or os.environ.get("ORCHESTRATOR_URL") or DEFAULT_URL
    key = args.api_key or os.environ.get("ORCHESTRATOR_API_KEY")
    if not key and url == DEFAULT_URL:
        key = saved_api_key(get_settings())
    if not key:
        raise DomainError(f"no API key for {url}: pass --api-key or set ORCHESTRATOR_API_KEY "
                          "(make one with `orchestrator api-keys create --name NAME`)")
    return Client(url, key)


def _when(value: str | None) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM:SS' (UTC as the API gives it)."""
    return value[:19].replace("T", " ") if value else ""


def _json_arg(text: str, flag: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DomainError(f"{flag} is not JSON: {exc}") from None


def _short(row_id: str) -> str:
    """The start of an id, enough to recognise it in a table (``--json`` has it whole)."""
    return row_id[:8] + "…"


def table(title: str, columns: tuple[str, ...], rows: list[list[Any]]) -> Table:
    """One line a row: the last column folds; the others, short, stay whole (the id to act on first)."""
    out = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        last = index == len(columns) - 1
        out.add_column(column, no_wrap=not last, overflow="fold" if last else "ellipsis")
    for row in rows:
        out.add_row(*(escape("" if v is None else str(v)) for v in row))
    return out


def _show(args: argparse.Namespace, data: Any, render: Callable[[Console, Any], None]) -> int:
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        render(Console(), data)
    return 0


def _with_client(action: Callable[[argparse.Namespace, Client], Any], render: Callable[[Console, Any], None]):
    def command(args: argparse.Namespace) -> int:
        client = connect(args)
        try:
            return _show(args, action(args, client), render)
        finally:
            client.close()
    return command


def _said(text: Callable[[Any], str]) -> Callable[[Console, Any], None]:
    return lambda console, data: console.print(escape(text(data)))


# workflows

def _workflow_rows(items: list[Row]) -> Table:
    return table("workflows", ("id", "name", "status", "latest", "published", "updated"), [
        [w["id"], w["name"], w["status"], w["latest_version"], w["published_version"] or "-", _when(w["updated_at"])]
        for w in items])


def _workflow_show(args: argparse.Namespace, client: Client) -> Row:
    workflow = client.call("GET", f"/workflows/{args.workflow_id}")
    workflow["versions"] = client.items(f"/workflows/{args.workflow_id}/versions")
    return workflow


def _render_workflow(console: Console, w: Row) -> None:
    console.print(escape(f"{w['name']}  ({w['id']})\nstatus {w['status']}, latest version {w['latest_version']}, "
                         f"published {w['published_version'] or '-'}"))
    if w.get("description"):
        console.print(escape(w["description"]))
    console.print(table("versions", ("version", "label", "checksum", "created"), [
        [v["version"], v["label"] or "", v["checksum"][:12], _when(v["created_at"])] for v in w["versions"]]))
    console.print(table("nodes", ("id", "type", "after"), [
        [n["id"], n["type"], ", ".join(e["source"] for e in w["definition"].get("edges", []) if e["target"] == n["id"])]
        for n in w["definition"]["nodes"]]))


def _read_file(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise DomainError(f"cannot read {path}: {exc.strerror}") from None


def _validate(args: argparse.Namespace, client: Client) -> Row:
    return client.call("POST", "/workflows/validate", json={"definition": _read_file(args.file)})


def _render_validation(console: Console, result: Row) -> None:
    console.print(escape(f"valid: {result['name']}, {len(result['nodes'])} node(s)"))
    for warning in result["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(warning)}")


def _create(args: argparse.Namespace, client: Client) -> Row:
    body = {"definition": _read_file(args.file)}
    if args.name:
        body["name"] = args.name
    created = client.call("POST", "/workflows", json=body)
    if args.publish:
        created = client.call("POST", f"/workflows/{created['id']}/publish", json={})
    return created


def _publish(args: argparse.Namespace, client: Client) -> Row:
    return client.call("POST", f"/workflows/{args.workflow_id}/publish",
                       json={} if args.version is None else {"version": args.version})


# executions

def _execution_rows(items: list[Row]) -> Table:
    return table("executions", ("id", "workflow", "status", "created", "duration", "error"), [
        [e["id"], f"{_short(e['workflow_id'])} v{e['version']}", e["status"], _when(e["created_at"]),
         f"{e['duration_ms']} ms" if e["duration_ms"] is not None else "", progress.clip(e["error"], LIST_ERROR_WIDTH)]
        for e in items])


def _execution_show(args: argparse.Namespace, client: Client) -> Row:
    execution = client.execution(args.execution_id)
    execution["steps"] = client.steps(args.execution_id)
    if not args.traceback:
        for step in execution["steps"]:
            step.pop("error_traceback", None)
    return execution


def _render_execution(console: Console, e: Row) -> None:
    console.print(escape(f"execution {e['id']}: workflow {e['workflow_id']} v{e['version']}, "
                         f"trigger {e['trigger']}, created {_when(e['created_at'])}"))
    console.print(progress.step_table(e["steps"], console.width))
    progress.step_errors(e["steps"], console)
    for step in e["steps"]:
        if step.get("error_traceback"):
            console.print(f"[bold]traceback of {escape(step['node_id'])}[/] (attempt {step['attempt']}):")
            console.print(escape(step["error_traceback"].rstrip()), highlight=False)
    progress.summary(e, console, e["steps"])


def _act(action: str) -> Callable[[argparse.Namespace, Client], Row]:
    return lambda args, client: client.call("POST", f"/executions/{args.execution_id}/{action}")


# approvals

def _approval_rows(items: list[Row]) -> Table:
    return table("approvals", ("id", "execution", "node", "approver", "status", "expires"), [
        [a["id"], _short(a["execution_id"]), a["node_id"], a["approver_email"] or "", a["status"], _when(a["expires_at"])]
        for a in items])


def _decide(approve: bool) -> Callable[[argparse.Namespace, Client], Row]:
    return lambda args, client: client.decide(args.approval_id, approve, _json_arg(args.data, "--data"))


# schedules

def _schedule_rows(items: list[Row]) -> Table:
    return table("schedules", ("id", "workflow", "status", "next run", "last", "timezone", "cron"), [
        [s["id"], _short(s["workflow_id"]), s["status"], _when(s["next_run_at"]), s["last_execution_status"] or "",
         s["timezone"], f"{s['cron_expression']}: {s['description']}"] for s in items])


def _schedule_create(args: argparse.Namespace, client: Client) -> Row:
    body = {"cron_expression": args.cron, "timezone": args.timezone, "input": _json_arg(args.input, "--input")}
    if args.name:
        body["name"] = args.name
    return client.call("POST", f"/workflows/{args.workflow_id}/schedules", json=body)


def _schedule_said(s: Row) -> str:
    return f"schedule {s['id']}: {s['status']}, next run {_when(s['next_run_at']) or '-'}"


# secrets

def _secret_value(args: argparse.Namespace) -> str:
    if args.value is not None:
        return args.value
    if sys.stdin.isatty():
        return getpass.getpass(f"value of {args.name}: ")
    return sys.stdin.read().rstrip("\n")


def _secret_set(args: argparse.Namespace, client: Client) -> Row:
    return client.call("POST", "/secrets", json={"name": args.name, "value": _secret_value(args)})


def _secret_rows(items: list[Row]) -> Table:
    return table("secrets", ("name", "created", "updated"),
                 [[s["name"], _when(s["created_at"]), _when(s["updated_at"])] for s in items])


def _rows(render: Callable[[list[Row]], Table]) -> Callable[[Console, Any], None]:
    return lambda console, items: console.print(render(items))


def add_resource_commands(commands: argparse._SubParsersAction,
                          remote: Callable[..., None]) -> argparse._SubParsersAction:
    """Register the resource commands; returns the ``executions`` group (``tail`` joins it)."""
    def command(group: argparse._SubParsersAction, name: str, help: str,
                action: Callable[[argparse.Namespace, Client], Any], render: Callable[[Console, Any], None],
                *arguments: tuple[tuple[str, ...], dict[str, Any]]) -> argparse.ArgumentParser:
        parser = group.add_parser(name, help=help)
        for flags, options in arguments:
            parser.add_argument(*flags, **options)
        parser.add_argument("--json", action="store_true", help="print the API's JSON answer")
        remote(parser, "the API (default: the local `orchestrator standalone`)")
        parser.set_defaults(func=_with_client(action, render))
        return parser

    def group(name: str, help: str) -> argparse._SubParsersAction:
        return commands.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", required=True)

    limit = (("--limit",), {"type": int, "default": 50, "help": "at most this many (default 50)"})

    workflows = group("workflows", "workflow definitions and versions")
    command(workflows, "list", "list workflows", lambda a, c: c.items("/workflows", {"status": a.status}, a.limit),
            _rows(_workflow_rows), (("--status",), {"choices": ["draft", "published", "archived"]}), limit)
    command(workflows, "show", "a workflow, its versions and nodes", _workflow_show, _render_workflow,
            (("workflow_id",), {}))
    command(workflows, "validate", "check a definition file without saving it", _validate, _render_validation,
            (("file",), {"help": "YAML or JSON"}))
    command(workflows, "create", "create a workflow from a file (version 1, draft)", _create,
            _said(lambda w: f"created workflow {w['id']} ({w['name']}), version {w['latest_version']}, {w['status']}"),
            (("file",), {"help": "YAML or JSON"}), (("--name",), {"help": "default: the definition's name"}),
            (("--publish",), {"action": "store_true", "help": "publish version 1 too"}))
    command(workflows, "publish", "pin the version executions run by default", _publish,
            _said(lambda w: f"workflow {w['id']}: version {w['published_version']} published"),
            (("workflow_id",), {}), (("--version",), {"type": int, "help": "default: the latest"}))

    executions = group("executions", "runs of workflows")
    command(executions, "list", "list executions, newest first",
            lambda a, c: c.items("/executions", {"workflow_id": a.workflow, "status": a.status}, a.limit),
            _rows(_execution_rows), (("--workflow",), {"help": "a workflow id"}),
            (("--status",), {"help": "pending, running, paused, completed, failed, cancelled, timed_out"}), limit)
    command(executions, "show", "an execution and its steps", _execution_show, _render_execution,
            (("execution_id",), {}),
            (("--traceback",), {"action": "store_true", "help": "the traceback of each failed step"}))
    for action, help in (("cancel", "cancel: open steps are cancelled"), ("pause", "pause after running steps"),
                         ("resume", "resume a paused execution"), ("retry", "retry a failed execution")):
        command(executions, action, help, _act(action), _said(lambda e, a=action: f"execution {e['id']}: {e['status']}"),
                (("execution_id",), {}))

    approvals = group("approvals", "human approvals")
    command(approvals, "list", "list approvals (default: pending ones)",
            lambda a, c: c.items("/approvals", {"status": None if a.status == "all" else a.status}, a.limit),
            _rows(_approval_rows),
            (("--status",), {"default": "pending", "choices": ["pending", "approved", "rejected", "expired", "all"]}),
            limit)
    for name, approve in (("approve", True), ("reject", False)):
        command(approvals, name, f"{name} a pending approval", _decide(approve),
                _said(lambda a: f"approval {a['id']} ({a['node_id']}): {a['status']}"), (("approval_id",), {}),
                (("--data",), {"default": "{}", "help": "decision data as a JSON object"}))

    schedules = group("schedules", "cron schedules")
    command(schedules, "list", "list schedules with their next run",
            lambda a, c: c.items("/schedules", {"workflow_id": a.workflow}, a.limit), _rows(_schedule_rows),
            (("--workflow",), {"help": "a workflow id"}), limit)
    command(schedules, "create", "run a workflow on a cron schedule", _schedule_create, _said(_schedule_said),
            (("workflow_id",), {}), (("--cron",), {"required": True, "help": "e.g. '*/5 * * * *' or @daily"}),
            (("--timezone",), {"default": "UTC", "help": "IANA zone (default UTC)"}),
            (("--input",), {"default": "{}", "help": "input of every run as JSON"}), (("--name",), {}))
    for action in ("pause", "resume"):
        command(schedules, action, f"{action} a schedule",
                lambda a, c, action=action: c.call("POST", f"/schedules/{a.schedule_id}/{action}"),
                _said(_schedule_said), (("schedule_id",), {}))

    secrets = group("secrets", "secrets that templates read as {{ secrets.NAME }}")
    command(secrets, "set", "create or replace a secret (value from --value, else asked or read from stdin)",
            _secret_set, _said(lambda s: f"secret {s['name']} saved"), (("name",), {}),
            (("--value",), {"help": "the value (visible in your shell history: prefer stdin)"}))
    command(secrets, "list", "list secret names (values are never shown)",
            lambda a, c: c.items("/secrets"), _rows(_secret_rows))
    command(secrets, "delete", "delete a secret",
            lambda a, c: c.call("DELETE", f"/secrets/{a.name}") or {"name": a.name, "deleted": True},
            _said(lambda s: f"secret {s['name']} deleted"), (("name",), {}))
    return executions
