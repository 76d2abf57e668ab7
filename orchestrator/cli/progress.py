"""Live progress of an execution in the terminal, from its event stream."""
from __future__ import annotations

import json
from typing import Any, Callable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestrator.cli.client import Client
from orchestrator.cli.tables import readable, until

ERROR_WIDTH = 60       # an error longer than this is clipped in tables and printed in full below
ERROR_MIN_WIDTH = 12
STEP_DONE = {"step_completed": "[green]✓", "step_failed": "[red]✗", "step_skipped": "[dim]-",
             "step_cancelled": "[yellow]⊘"}


def follow(client: Client, execution_id: str, total_nodes: int, console: Console,
           on_waiting: Callable[[dict[str, Any]], None] = lambda event: None) -> None:
    """Print each node as it ends, with a progress bar, until the execution ends."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("starting", total=total_nodes)
        done: set[str | None] = set()
        for event in client.events(execution_id):
            kind, node = event["event_type"], event.get("node_id")
            if kind in STEP_DONE and node not in done:
                done.add(node)
                progress.advance(bar)
                progress.console.print(f"{STEP_DONE[kind]}[/] {node}{_note(event) if kind != 'step_completed' else ''}")
            elif kind == "step_running":
                progress.update(bar, description=f"running {node}" + (
                    f" (attempt {event['attempt']})" if (event.get("attempt") or 1) > 1 else ""))
            elif kind == "step_queued" and (event.get("attempt") or 1) > 1:
                progress.console.print(f"[yellow]↻[/] {node}{_note(event, 'retrying')}")
            elif kind == "step_waiting":
                progress.console.print(f"[cyan]…[/] {node}{_note({'message': _waiting(event)})}")
                progress.stop()             # a question asked under a live display would be drawn over
                on_waiting(event)
                progress.start()
            elif kind.startswith("execution_") and kind not in ("execution_pending", "execution_running"):
                progress.update(bar, description=kind.removeprefix("execution_"))


def _note(event: dict[str, Any], default: str = "") -> str:
    """The event's message after a node's name, its times local."""
    text = event.get("message") or default
    return f"  [dim]{escape(readable(text))}[/]" if text else ""


def _waiting(event: dict[str, Any]) -> str:
    """What a step waits for, and until when a decision may come."""
    said = event.get("message") or "waiting"
    expires = (event.get("data") or {}).get("expires_at")
    return f"{said}, expires {until(expires)}" if expires else said


def clip(text: str | None, width: int = ERROR_WIDTH) -> str:
    """The first line of ``text``, at most ``width`` characters (… when cut)."""
    text = (text or "").strip()
    first = text.splitlines()[0] if text else ""
    if first == text and len(text) <= width:
        return text
    return first[:width - 1] + "…"


def step_table(steps: list[dict[str, Any]], width: int = 120) -> Table:
    """One line a step, ``width`` columns wide at most: an error is clipped to the room left
    (``step_errors`` prints it whole)."""
    rows = [(step["node_id"], step["node_type"], step["status"], str(step["attempt"]),
             f"{step['duration_ms']} ms" if step.get("duration_ms") is not None else "") for step in steps]
    table = Table(title="steps")
    widths = [max([len(column)] + [len(row[index]) for row in rows])
              for index, column in enumerate(("node", "type", "status", "attempt", "duration"))]
    for column, column_width in zip(("node", "type", "status", "attempt", "duration"), widths, strict=True):
        table.add_column(column, no_wrap=True, min_width=column_width)
    room = max(ERROR_MIN_WIDTH, width - sum(widths) - 3 * (len(widths) + 1) - 1)   # 3: borders and padding
    table.add_column("error", no_wrap=True)
    colours = {"completed": "green", "failed": "red", "skipped": "dim", "cancelled": "yellow"}
    for step, (node, type_, status, attempt, duration) in zip(steps, rows, strict=True):
        table.add_row(escape(node), type_, f"[{colours.get(status, 'white')}]{status}[/]", attempt, duration,
                      escape(clip(step.get("error"), min(room, ERROR_WIDTH))))
    return table


def step_errors(steps: list[dict[str, Any]], console: Console) -> None:
    """The full text of each error in the step table, once (steps with the same error together)."""
    nodes_by_error: dict[str, list[str]] = {}
    for step in steps:
        if step.get("error"):
            nodes_by_error.setdefault(step["error"].strip(), []).append(step["node_id"])
    for error, nodes in nodes_by_error.items():
        console.print(f"[red]{escape(', '.join(nodes))}:[/] {escape(error)}", highlight=False)


def summary(execution: dict[str, Any], console: Console, steps: Sequence[dict[str, Any]] = ()) -> None:
    """The outcome, the execution's error unless it only repeats a step's (printed already), the output."""
    colour = "green" if execution["status"] == "completed" else "red"
    console.print(f"execution {execution['id']}: [bold {colour}]{execution['status']}[/]"
                  + (f" in {execution['duration_ms']} ms" if execution.get("duration_ms") is not None else ""))
    error = (execution.get("error") or "").strip()
    if error and not any(step.get("error") and error.endswith(step["error"].strip()) for step in steps):
        console.print(f"[red]error:[/] {escape(error)}", highlight=False)
    if execution.get("output") is not None:
        console.print_json(json.dumps(execution["output"]))
