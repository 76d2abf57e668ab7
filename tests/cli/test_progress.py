"""The step table fits the terminal; each error is printed in full once below it."""
from __future__ import annotations

from rich.console import Console

from orchestrator.cli import progress

LONG = ("refusing to connect to 127.0.0.1 (loopback address) for host 127.0.0.1; "
        "set ORCHESTRATOR_HTTP_ALLOW_PRIVATE=1 to allow private targets")


def step(node_id: str, status: str, error: str | None = None) -> dict:
    return {"node_id": node_id, "node_type": "http_request", "status": status, "attempt": 1,
            "duration_ms": 3, "error": error}


def test_one_line_a_step_at_80_columns_and_each_error_in_full_once():
    console = Console(width=80, record=True, color_system=None)
    steps = [step("agents", "failed", LONG), step("python", "cancelled", LONG), step("digest", "completed")]
    console.print(progress.step_table(steps, console.width))
    progress.step_errors(steps, console)
    progress.summary({"id": "e1", "status": "failed", "duration_ms": 9, "error": f"node agents failed: {LONG}",
                      "output": None}, console, steps)
    text = console.export_text()
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    table_rows = [line for line in lines if line.startswith("│")]
    assert len(table_rows) == 3 and table_rows[0].endswith("refusing to connec… │")
    assert text.replace("\n", " ").count("set ORCHESTRATOR_HTTP_ALLOW_PRIVATE=1") == 1
    assert "agents, python: refusing" in text and "error:" not in text


def test_an_execution_error_of_its_own_is_shown():
    console = Console(width=80, record=True, color_system=None)
    progress.summary({"id": "e1", "status": "timed_out", "duration_ms": 9, "error": "execution timed out after 5s",
                      "output": None}, console, [step("a", "cancelled")])
    assert "error: execution timed out after 5s" in console.export_text()
