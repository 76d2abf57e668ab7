"""Live progress of an execution in the terminal, from its event stream."""
from __future__ import annotations

import json
from typing import Any, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestrator.client import Client

STEP_DONE = {"step_completed": "[green]✓", "step_failed": "[red]✗", "step_skipped": "[dim]-",
             "step_cancelled": "[yellow]⊘"}


def follow(client: Client, execution_id: str, total_nodes: int, console: Console,
           on_waiting: Callable[[dict[str, Any]], None] = lambda event: None) -> None:
    """Print each node as it ends, with a progress bar, until the execution ends."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("starting", total=total_nodes)
        done: set[str] = set()
        for event in client.events(execution_id):
            kind, node = event["event_type"], event.get("node_id")
            if kind in STEP_DONE and node not in done:
                done.add(node)
                progress.advance(bar)
                note = f"  [dim]{event['message']}[/]" if event.get("message") and kind != "step_completed" else ""
                progress.console.print(f"{STEP_DONE[kind]}[/] {node}{note}")
            elif kind == "step_running":
                progress.update(bar, description=f"running {node}" + (
                    f" (attempt {event['attempt']})" if (event.get("attempt") or 1) > 1 else ""))
            elif kind == "step_queued" and (event.get("attempt") or 1) > 1:
                progress.console.print(f"[yellow]↻[/] {node}  [dim]{event.get('message') or 'retrying'}[/]")
            elif kind == "step_waiting":
                progress.console.print(f"[cyan]…[/] {node}  [dim]{event.get('message') or 'waiting'}[/]")
                on_waiting(event)
            elif kind.startswith("execution_") and kind not in ("execution_pending", "execution_running"):
                progress.update(bar, description=kind.removeprefix("execution_"))


def step_table(steps: list[dict[str, Any]]) -> Table:
    table = Table(title="steps")
    for column in ("node", "type", "status", "attempt", "duration", "error"):
        table.add_column(column, overflow="fold")
    colours = {"completed": "green", "failed": "red", "skipped": "dim", "cancelled": "yellow"}
    for step in steps:
        duration = f"{step['duration_ms']} ms" if step.get("duration_ms") is not None else ""
        status = step["status"]
        table.add_row(step["node_id"], step["node_type"], f"[{colours.get(status, 'white')}]{status}[/]",
                      str(step["attempt"]), duration, (step.get("error") or "")[:200])
    return table


def summary(execution: dict[str, Any], console: Console) -> None:
    colour = "green" if execution["status"] == "completed" else "red"
    console.print(f"execution {execution['id']}: [bold {colour}]{execution['status']}[/]"
                  + (f" in {execution['duration_ms']} ms" if execution.get("duration_ms") is not None else ""))
    if execution.get("error"):
        console.print(f"[red]error:[/] {execution['error']}")
    if execution.get("output") is not None:
        console.print_json(json.dumps(execution["output"]))
