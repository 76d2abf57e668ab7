"""What people read: tables that keep ids and statuses whole at 80 columns, and times in the
local time zone, a wait with how far off it is."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console

from orchestrator.cli import progress, tables

IDS = ["6b0e7c4e-59a4-4a4b-9d43-3f1c2a8e2b10", "0f3d7a52-1d0c-4cb5-8d6e-b7f5a9c1e2d3"]


@pytest.fixture
def paris(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def render(table, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(table)
    return console.export_text()


@pytest.mark.parametrize("width", [60, 80, 120])
def test_ids_and_statuses_stay_whole_and_other_columns_wrap_or_go(width):
    rows = [[i, "a-workflow-with-a-rather-long-name v12", "timed_out", "2024-05-01 10:00:00", "1234 ms",
             "refusing to connect to 127.0.0.1 (loopback address)"] for i in IDS]
    text = render(tables.table("executions", ("id", "workflow", "status", "created", "duration", "error"), rows,
                               width), width)
    assert all(len(line) <= width for line in text.splitlines())
    lines = text.splitlines()
    for execution_id in IDS:          # whole, on one line, with its status: copied with a double click
        assert any(execution_id in line and "timed_out" in line for line in lines)
    if width == 120:
        assert "not shown" not in text and "loopback" in text
    else:
        assert f"not shown at {width} columns: " in text and "(--json has everything)" in text


def test_an_empty_list_says_so():
    assert render(tables.table("secrets", ("name", "created"), [], 80), 80).splitlines()[-1].strip() == "none"


def test_a_column_wraps_down_to_ten_characters_before_it_is_left_out():
    def note(width: int) -> str:
        return render(tables.table("t", ("id", "status", "note"), [[IDS[0], "completed", "x" * 30]], width), width)
    assert "not shown" not in note(61) and note(61).count("x" * 10) == 3        # 36 + 9 + 10 + 2 separators of 3
    assert "not shown at 60 columns: note" in note(60) and "x" not in note(60).replace("(--json", "")


def test_times_are_local_and_a_wait_says_how_far(paris):
    now = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
    assert tables.when("2024-05-01T08:00:00+00:00") == "2024-05-01 10:00:00"          # CEST: UTC+2
    assert tables.until("2024-05-01T08:03:10+00:00", now) == "2024-05-01 10:03:10 (in 3 min)"
    assert tables.until("2024-05-01T11:00:00Z", now) == "2024-05-01 13:00:00 (in 3 h)"
    assert tables.until("2024-05-03T08:00:00+00:00", now) == "2024-05-03 10:00:00 (in 2 days)"
    assert tables.until("2024-05-01T07:59:30+00:00", now) == "2024-05-01 09:59:30 (30 s ago)"
    assert tables.when(None) == tables.until(None) == ""


def test_a_wait_in_the_live_progress_is_local(paris):
    soon = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=365, minutes=1)
    text = progress._waiting({"message": f"waiting until {soon.isoformat()}"})
    local = soon.astimezone()
    assert tables.readable(text).startswith(f"waiting until {local:%Y-%m-%d %H:%M:%S} (in 36")
    approval = progress._waiting({"message": "waiting for a human decision",
                                  "data": {"expires_at": soon.isoformat()}})
    assert approval.startswith(f"waiting for a human decision, expires {local:%Y-%m-%d %H:%M:%S} (in 36")
    assert "T" not in approval.split("expires")[1]
