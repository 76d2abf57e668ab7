"""How the CLI shows things to people: tables that fit the terminal without cutting an id or a
status, and times in the local time zone (a wait with how long from now)."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Sequence

from rich import box
from rich.markup import escape
from rich.table import Table

WHOLE = ("id", "status")     # never cut nor left out, so they can be copied
SEPARATOR = 3                # what the table puts between two columns
MIN_WRAP = 10                # the narrowest a column that wraps is worth showing
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")


def _local(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone()


def when(value: str | None) -> str:
    """An ISO instant from the API as local 'YYYY-MM-DD HH:MM:SS'."""
    return f"{_local(value):%Y-%m-%d %H:%M:%S}" if value else ""


def _span(seconds: float) -> str:
    seconds = round(abs(seconds))
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''}"
    return f"{seconds} s"


def until(value: str | None, now: datetime | None = None) -> str:
    """An instant someone waits for, in local time with how far it is: '2024-05-02 09:30:00 (in 3 h)'."""
    if not value:
        return ""
    moment = _local(value)
    delta = (moment - (now or datetime.now(timezone.utc))).total_seconds()
    return f"{moment:%Y-%m-%d %H:%M:%S} ({f'in {_span(delta)}' if delta >= 0 else f'{_span(delta)} ago'})"


def readable(text: str) -> str:
    """``text`` with each ISO instant in it (``waiting until 2024-...T...+00:00``) as ``until`` shows it."""
    return INSTANT.sub(lambda match: until(match.group()), text)


def table(title: str, columns: Sequence[str], rows: list[list[Any]], width: int,
          whole: Sequence[str] = WHOLE) -> Table:
    """One row a line where the width allows: the ``whole`` columns are never cut (an id, a
    status); the others wrap, and the last of them are left out (named below the table) when
    even wrapped they would not fit in ``width``."""
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    kept = _fit(columns, cells, width, whole)
    out = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                caption_justify="left")
    for index in kept:
        keep_whole = columns[index] in whole
        natural = max([len(columns[index])] + [len(row[index]) for row in cells])
        out.add_column(columns[index], no_wrap=keep_whole, min_width=natural if keep_whole else None,
                       overflow="fold")
    for row in cells:
        out.add_row(*(escape(row[index]) for index in kept))
    left_out = [column for index, column in enumerate(columns) if index not in kept]
    if left_out:
        out.caption = f"not shown at {width} columns: {', '.join(left_out)} (--json has everything)"
    elif not rows:
        out.caption = "none"
    return out


def _fit(columns: Sequence[str], cells: list[list[str]], width: int, whole: Sequence[str]) -> list[int]:
    """The indexes of the columns that fit, leaving out the last cuttable ones first."""
    need = []
    for index, column in enumerate(columns):
        natural = max([len(column)] + [len(row[index]) for row in cells])
        need.append(natural if column in whole else min(natural, MIN_WRAP))
    kept = list(range(len(columns)))
    while sum(need[i] for i in kept) + SEPARATOR * (len(kept) - 1) > width:
        cuttable = [i for i in kept if columns[i] not in whole]
        if not cuttable:
            break
        kept.remove(cuttable[-1])
    return kept
