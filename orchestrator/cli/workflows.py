"""``orchestrator workflows``: definitions and versions. ``validate`` checks a file here, as
``run`` does, and asks an API that answers only what needs one (the workflows, agents and teams
the file names)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.cli.client import Client, Row
from orchestrator.cli.remote import (
    command, connect, given_url, group, listed, local_key, remote_options, rows, said,
)
from orchestrator.cli.standalone import running_standalone
from orchestrator.cli.tables import table, when
from orchestrator.config import get_settings
from orchestrator.definitions import DefinitionError, WorkflowDefinition, parse_definition
from orchestrator.services import workflows
from orchestrator.services.errors import DomainError
from orchestrator.templating import is_templated

# What a node of these types names in its config that the server holds: a workflow (its id or
# name), an agent, a team (by name; an inline one is a mapping).
REFERENCES = {"subworkflow": "workflow", "agent": "agent", "team": "team"}


def read_file(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise DomainError(f"cannot read {path}: {exc.strerror}") from None


def read_definition(path: str) -> tuple[str, WorkflowDefinition]:
    """The file's text and its definition; a bad file is one error naming it and every problem."""
    text = read_file(path)
    try:
        return text, parse_definition(text)
    except DefinitionError as exc:
        raise DomainError(f"{path} is not a valid workflow: {exc}") from None


def _validate(args: argparse.Namespace) -> int:
    text, definition = read_definition(args.file)
    result: Row = {"name": definition.name, "nodes": list(definition.nodes),
                   "warnings": workflows.validate(text).warnings, "checked_against": None}
    if given_url(args) or (local_key(args) and running_standalone(get_settings())):
        with connect(args) as client:
            result["warnings"] += _missing(client, definition)
            result["checked_against"] = client.url
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    console = Console(soft_wrap=True)
    console.print(escape(f"valid: {result['name']}, {len(result['nodes'])} node(s)"))
    for warning in result["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    if result["checked_against"] is None and _references(definition):
        console.print("[dim]the workflows, agents and teams it names are not checked: no API answers (start one "
                      "with `orchestrator standalone`, or pass --url)[/]")
    return 0


def _references(definition: WorkflowDefinition) -> list[tuple[str, str, str]]:
    """(node id, resource, name) of each thing a node names that the server holds."""
    found = []
    for node in definition.nodes.values():
        key = REFERENCES.get(node.type)
        if key is None:
            continue
        name = node.config.get(key)
        if isinstance(name, str) and not is_templated(name):
            found.append((node.id, key, name))
    return found


def _missing(client: Client, definition: WorkflowDefinition) -> list[str]:
    """A warning for each workflow, agent or team the definition names that the API does not hold."""
    held: dict[str, set[str]] = {}
    warnings = []
    for node_id, resource, name in _references(definition):
        if resource not in held:
            held[resource] = {ref for item in client.items(f"/{resource}s") for ref in (item["id"], item["name"])
                              if resource != "workflow" or item["status"] != "archived"}
        if name not in held[resource]:
            warnings.append(f"node {node_id}: no {resource} named {name!r} at {client.url} (create it before running "
                            "this workflow)")
    return warnings


def _workflow_rows(items: list[Row], width: int) -> Table:
    return table("workflows", ("id", "name", "status", "latest", "published", "updated"), [
        [w["id"], w["name"], w["status"], w["latest_version"], w["published_version"] or "-", when(w["updated_at"])]
        for w in items], width)


def _workflow_show(args: argparse.Namespace, client: Client) -> Row:
    workflow_id = client.workflow_id(args.workflow)
    workflow = client.call("GET", f"/workflows/{workflow_id}")
    workflow["versions"] = client.items(f"/workflows/{workflow_id}/versions")
    return workflow


def _render_workflow(console: Console, w: Row) -> None:
    console.print(escape(f"{w['name']}  ({w['id']})\nstatus {w['status']}, latest version {w['latest_version']}, "
                         f"published {w['published_version'] or '-'}"))
    if w.get("description"):
        console.print(escape(w["description"]))
    console.print(table("versions", ("version", "label", "checksum", "created"), [
        [v["version"], v["label"] or "", v["checksum"][:12], when(v["created_at"])] for v in w["versions"]],
        console.width, whole=("version",)))
    console.print(table("nodes", ("id", "type", "after"), [
        [n["id"], n["type"], ", ".join(e["source"] for e in w["definition"].get("edges", []) if e["target"] == n["id"])]
        for n in w["definition"]["nodes"]], console.width, whole=("id", "type")))


def _create(args: argparse.Namespace, client: Client) -> Row:
    text, _ = read_definition(args.file)
    body = {"definition": text}
    if args.name:
        body["name"] = args.name
    created = client.call("POST", "/workflows", json=body)
    if args.publish:
        created = client.call("POST", f"/workflows/{created['id']}/publish", json={})
    return created


def _publish(args: argparse.Namespace, client: Client) -> Row:
    return client.call("POST", f"/workflows/{client.workflow_id(args.workflow)}/publish",
                       json={} if args.version is None else {"version": args.version})


def add_commands(commands: argparse._SubParsersAction) -> None:
    workflows_ = group(commands, "workflows", "workflow definitions and versions")
    command(workflows_, "list", "list workflows", listed("/workflows", status="status"), rows(_workflow_rows),
            (("--status",), {"choices": ["draft", "published", "archived"]}), listing=True)
    command(workflows_, "show", "a workflow, its versions and nodes", _workflow_show, _render_workflow,
            (("workflow",), {"help": "its id or name"}))
    about = ("check a definition file without saving it, here; the workflows, agents and teams it names on an API "
             "if one answers")
    validate = workflows_.add_parser("validate", help=about, description=about)
    validate.add_argument("file", help="YAML or JSON")
    validate.add_argument("--json", action="store_true", help="print the result as JSON")
    remote_options(validate, "the API that checks names (default: the local standalone if it runs)")
    validate.set_defaults(func=_validate)
    command(workflows_, "create", "create a workflow from a file (version 1, draft)", _create,
            said(lambda w: f"created workflow {w['id']} ({w['name']}), version {w['latest_version']}, {w['status']}"),
            (("file",), {"help": "YAML or JSON"}), (("--name",), {"help": "default: the definition's name"}),
            (("--publish",), {"action": "store_true", "help": "publish version 1 too"}))
    command(workflows_, "publish", "pin the version executions run by default", _publish,
            said(lambda w: f"workflow {w['id']}: version {w['published_version']} published"),
            (("workflow",), {"help": "its id or name"}), (("--version",), {"type": int, "help": "default: the latest"}))


def workflow_label(row: Row, names: dict[str, str]) -> Any:
    """How a table names an execution's or a schedule's workflow: its name (and version)."""
    name = names.get(row["workflow_id"], row["workflow_id"])
    return f"{name} v{row['version']}" if "version" in row else name
