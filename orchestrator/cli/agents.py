"""``orchestrator agents|tools|teams``: list, show, create from a YAML or JSON file (the fields
the API takes), delete; an admin approves or rejects tools. Each is named by its name or id."""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any, Callable

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.cli.client import Client, Row
from orchestrator.cli.remote import Action, command, group, listed, rows, said
from orchestrator.cli.tables import table
from orchestrator.cli.workflows import read_file
from orchestrator.services.errors import DomainError


@dataclass(frozen=True)
class Kind:
    """One of the three resources: its name, what its group is for, the main fields a file gives
    (for an error), and the table's columns beyond id, name and status with their cells."""

    name: str
    help: str
    fields: str
    columns: tuple[str, ...]
    cells: Callable[[Row], list[Any]]

    @property
    def path(self) -> str:
        return f"/{self.name}s"

    def find(self, client: Client, ref: str) -> Row:
        return client.named(self.path, ref, self.name, f"orchestrator {self.name}s list")


KINDS = (
    Kind("agent", "agents: a model that calls tools until it can answer", "name, model, instructions, tools",
         ("model", "tools"), lambda a: [a["model"], ", ".join(a["tools"])]),
    Kind("tool", "tools agents may call (pending until an admin approves them)",
         "name, description, input_schema, config: {kind: http, method, url}",
         ("kind", "visibility", "description"), lambda t: [t["config"].get("kind"), t["visibility"], t["description"]]),
    Kind("team", "teams: agents in a topology", "name, topology_config: {type, members: [{name, agent}]}",
         ("topology", "members"), lambda t: [t["topology_config"].get("type"), _members(t["topology_config"])]),
)


def _members(topology: Row) -> str:
    return ", ".join(member.get("name", "") for member in topology.get("members", []))


def _body(path: str, kind: Kind) -> Row:
    """The file's fields, as the API takes them for a new one."""
    try:
        body = yaml.safe_load(read_file(path))
    except yaml.YAMLError as exc:
        raise DomainError(f"{path} is not YAML or JSON: {' '.join(str(exc).split())}") from None
    if not isinstance(body, dict):
        raise DomainError(f"{path} must hold one mapping of the {kind.name}'s fields ({kind.fields}; see /docs)")
    return body


def _rows(kind: Kind) -> Callable[[list[Row], int], Table]:
    return lambda items, width: table(f"{kind.name}s", ("id", "name", "status", *kind.columns),
                                      [[i["id"], i["name"], i["status"], *kind.cells(i)] for i in items], width)


def _render_one(console: Console, row: Row) -> None:
    console.print(escape(json.dumps(row, indent=2)), highlight=False)


def _decide_tool(kind: Kind, action: str) -> Action:
    return lambda args, client: client.call("POST", f"{kind.path}/{kind.find(client, args.tool)['id']}/{action}")


def _add_kind(commands: argparse._SubParsersAction, kind: Kind) -> None:
    plural = f"{kind.name}s"
    kinds = group(commands, plural, kind.help)
    command(kinds, "list", f"list {plural}, newest first", listed(kind.path, status="status"), rows(_rows(kind)),
            (("--status",), {}), listing=True)
    ref = ((kind.name,), {"help": "its name or id"})
    command(kinds, "show", f"a {kind.name}'s fields",
            lambda a, c: c.call("GET", f"{kind.path}/{kind.find(c, getattr(a, kind.name))['id']}"), _render_one, ref)
    command(kinds, "create", f"create a {kind.name} from a YAML or JSON file of its fields",
            lambda a, c: c.call("POST", kind.path, json=_body(a.file, kind)),
            said(lambda r: f"created {kind.name} {r['name']} ({r['id']}): {r['status']}"), (("file",), {}))
    command(kinds, "delete", f"delete a {kind.name}",
            lambda a, c: c.call("DELETE", f"{kind.path}/{kind.find(c, getattr(a, kind.name))['id']}")
            or {"name": getattr(a, kind.name), "deleted": True},
            said(lambda r: f"deleted {kind.name} {r['name']}"), ref)
    if kind.name == "tool":
        for action in ("approve", "reject"):
            command(kinds, action, f"{action} a tool (admins)",
                    _decide_tool(kind, action),
                    said(lambda r: f"tool {r['name']}: {r['status']}"), ref)


def add_commands(commands: argparse._SubParsersAction) -> None:
    for kind in KINDS:
        _add_kind(commands, kind)
