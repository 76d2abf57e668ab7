"""``orchestrator run FILE``: a workflow end to end with live progress, on an embedded stack
started for the run (or a deployment's API); ``executions tail``: follow one to its end."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable

from rich.console import Console
from rich.prompt import Confirm

from orchestrator.cli import progress
from orchestrator.cli.client import ApiError, Client
from orchestrator.cli.remote import connect, given_url, remote_options
from orchestrator.cli.standalone import Stack
from orchestrator.cli.workflows import read_definition
from orchestrator.config import get_settings
from orchestrator.services.errors import DomainError

INTERRUPTED = 130       # the shell's code for a process ended by Ctrl-C


def _approver(client: Client, console: Console, policy: str | None, execution_id: str,
              where: str) -> Callable[[dict[str, Any]], None]:
    """What to do when a step waits for a human: approve, reject, ask at the terminal, or say how
    (``where``: the --url of the command that approves)."""
    def on_waiting(event: dict[str, Any]) -> None:
        pending = [a for a in client.approvals() if a["execution_id"] == execution_id
                   and a["node_id"] == event["node_id"]]
        for approval in pending:
            decision = policy
            if decision is None and sys.stdin.isatty():
                decision = "approve" if Confirm.ask(f"approve {approval['node_id']}?", console=console) else "reject"
            if decision is None:
                console.print(f"  approve with: orchestrator approvals approve {approval['id']}{where}")
                continue
            decided = client.decide(approval["id"], decision == "approve", {"decided_by": "orchestrator run"})
            console.print(f"  {decided['status']} {approval['node_id']}")
    return on_waiting


def _follow_to_end(client: Client, execution_id: str, total_nodes: int, console: Console,
                   approve: str | None = None, where: str = "") -> int:
    progress.follow(client, execution_id, total_nodes, console,
                    _approver(client, console, approve, execution_id, where))
    execution = client.execution(execution_id)
    steps = client.steps(execution_id)
    console.print(progress.step_table(steps, console.width))
    progress.step_errors(steps, console)
    progress.summary(execution, console, steps)
    return 0 if execution["status"] == "completed" else 1


def _run(args: argparse.Namespace) -> int:
    console = Console()
    text, definition = read_definition(args.file)        # a bad file fails here, before anything starts
    others = [read_definition(path) for path in args.with_]
    try:
        input = json.loads(args.input)
    except json.JSONDecodeError as exc:
        raise DomainError(f"--input is not JSON: {exc}") from None
    stack = None
    if args.url:
        client = Client(args.url, args.api_key or os.environ.get("ORCHESTRATOR_API_KEY", ""))
    else:
        stack = Stack(get_settings())
        with console.status("starting the embedded API, worker and beat…"):
            stack.start()
        client = Client(stack.url, stack.api_key)
    try:
        for other_text, other in others:        # workflows that its subworkflow nodes call, by name
            client.save_workflow(other, other_text)
        workflow_id, version = client.save_workflow(definition, text)
        execution = client.submit(workflow_id, input, version)
        console.print(f"running [bold]{definition.name}[/] v{version}: execution {execution['id']}")
        try:
            return _follow_to_end(client, execution["id"], len(definition.nodes), console, args.approve,
                                  f" --url {args.url}" if args.url else "")
        except KeyboardInterrupt:
            return _cancel(client, execution["id"], console)
    finally:
        client.close()
        if stack is not None:
            stack.stop()


def _cancel(client: Client, execution_id: str, console: Console) -> int:
    """After a Ctrl-C: ask the server to cancel the execution (another Ctrl-C leaves at once)."""
    console.print(f"interrupted: cancelling execution {execution_id} (Ctrl-C again to leave now)")
    try:
        status = client.call("POST", f"/executions/{execution_id}/cancel")["status"]
        console.print(f"execution {execution_id}: {status}")
    except ApiError as exc:
        console.print(f"[red]error:[/] {exc}")
    return INTERRUPTED


def _tail(args: argparse.Namespace) -> int:
    with connect(args) as client:
        return _follow_to_end(client, args.execution_id, len(client.steps(args.execution_id)), Console(),
                              where=f" --url {given_url(args)}" if given_url(args) else "")


def add_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="run a workflow file end to end, with live progress")
    run.add_argument("file", help="workflow definition (YAML or JSON)")
    run.add_argument("--input", default="{}", help="input as JSON (default {})")
    run.add_argument("--with", dest="with_", action="append", default=[], metavar="FILE",
                     help="another workflow to save first, for the file's subworkflow nodes (repeatable)")
    run.add_argument("--approve", choices=["approve", "reject"],
                     help="decide every human approval this way (default: ask when interactive)")
    remote_options(run, "the API of a running deployment (default: start an embedded one for this run)")
    run.set_defaults(func=_run)


def add_tail(executions: argparse._SubParsersAction) -> None:
    tail = executions.add_parser("tail", help="follow a running execution to its end")
    tail.add_argument("execution_id")
    remote_options(tail)
    tail.set_defaults(func=_tail)
