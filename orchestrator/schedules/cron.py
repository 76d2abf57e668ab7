"""Cron expressions evaluated in a schedule's IANA time zone, correct across DST changes.

An expression has five fields (minute hour day-of-month month day-of-week) or six with the
seconds first (second minute hour day-of-month month day-of-week), as Quartz and Spring
write it, or is one of the aliases @yearly (@annually), @monthly, @weekly, @daily
(@midnight) and @hourly. The fields are matched against wall-clock time in the zone, and each matching wall
time fires at most once:

- a wall time that a change repeats (fall back) fires at its first occurrence only;
- a wall time that a change skips (spring forward) fires once, at the instant of the change:
  02:30 in New York on the spring-forward day runs at 03:00 EDT.

The instant of a slot thus never decreases as its wall time grows, so the next (or last)
slot comes from the next (or previous) matching wall time alone.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from cron_descriptor import Options, get_description
from croniter import CroniterBadDateError, CroniterError, croniter

SECOND = timedelta(seconds=1)
FIELDS = {
    5: ("minute", "hour", "day of month", "month", "day of week"),
    6: ("second", "minute", "hour", "day of month", "month", "day of week"),
}
_DESCRIPTION = Options(use_24hour_time_format=True)
ALIASES = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}


class CronError(ValueError):
    """An expression or a time zone that cannot be used; the message names it and says why."""


def _fields(cron: str) -> list[str]:
    """The expression's fields, an alias expanded."""
    if not cron.strip().startswith("@"):
        return cron.split()
    try:
        return ALIASES[cron.strip().lower()].split()
    except KeyError:
        raise CronError(f"invalid cron expression {cron!r}: unknown alias; use one of {', '.join(ALIASES)}") from None


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; only names of the zone database, never a path or a directory of it."""
    if name not in _zone_names():
        raise CronError(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Paris' or 'UTC'")
    return ZoneInfo(name)


def check(cron: str) -> None:
    """Raise CronError unless ``cron`` parses, matches some date and can be put in words."""
    next_slot(cron, "UTC", datetime.now(timezone.utc))
    try:
        _words(cron)
    except Exception:  # noqa: BLE001 - cron_descriptor raises its own types, and sometimes others
        raise CronError(f"invalid cron expression {cron!r}: use numbers, ranges, lists, steps and names only") \
            from None


def _words(cron: str) -> str:
    return get_description(" ".join(_fields(cron)), _DESCRIPTION)


def describe(cron: str, tz: str) -> str:
    """A person's reading of the expression, e.g. 'At 01:30, Monday through Friday (Europe/Paris)';
    the expression itself for one stored before ``check`` refused its kind."""
    try:
        return f"{_words(cron)} ({tz})"
    except Exception:  # noqa: BLE001 - as in check
        return f"{cron} ({tz})"


def next_slot(cron: str, tz: str, after: datetime) -> datetime:
    """The first slot strictly after ``after`` (aware), as an aware UTC datetime."""
    where = zone(tz)
    try:
        return _instant(where, _step(cron, _floor(where, after), forward=True))
    except CronError:
        raise
    except (OverflowError, ValueError):     # past datetime.max: "year 10000 is out of range"
        raise CronError(f"cron expression {cron!r} has no slot after {after.isoformat()} "
                        f"before the end of year {datetime.max.year}") from None


def last_slot(cron: str, tz: str, until: datetime) -> datetime:
    """The latest slot at or before ``until``."""
    where = zone(tz)
    return _instant(where, _step(cron, _floor(where, until) + SECOND, forward=False))


def next_run(cron: str, tz: str, after: datetime, start_at: datetime | None = None,
             end_at: datetime | None = None) -> datetime | None:
    """The first slot after ``after`` inside [start_at, end_at]; None once the window has closed."""
    if start_at is not None and after < start_at:
        after = start_at - timedelta(microseconds=1)
    slot = next_slot(cron, tz, after)
    return None if end_at is not None and slot > end_at else slot


def _step(cron: str, start: datetime, forward: bool) -> datetime:
    """The matching wall time after (or before) the naive wall time ``start``."""
    fields = _fields(cron)
    if len(fields) not in FIELDS:
        raise CronError(f"invalid cron expression {cron!r}: expected 5 fields (minute hour day-of-month month "
                        f"day-of-week) or 6 with seconds first, got {len(fields)}")
    try:
        walls = croniter(" ".join(fields), start, second_at_beginning=True)
        return walls.get_next(datetime) if forward else walls.get_prev(datetime)
    except CroniterBadDateError:
        raise CronError(f"invalid cron expression {cron!r}: it matches no date") from None
    except CroniterError:
        raise CronError(f"invalid cron expression {cron!r}: {_culprit(fields)}") from None


def _culprit(fields: list[str]) -> str:
    """Which field croniter refused, found by trying each one alone."""
    for index, name in enumerate(FIELDS[len(fields)]):
        alone = ["*"] * len(fields)
        alone[index] = fields[index]
        try:
            croniter(" ".join(alone), second_at_beginning=True)
        except CroniterError:
            return f"{name} field {fields[index]!r} is not valid"
    return "its fields do not combine"


def _floor(where: ZoneInfo, instant: datetime) -> datetime:
    """The latest wall time whose slot is not after ``instant``.

    That is the wall time of ``instant``, except in the second pass through a repeated hour,
    whose wall times already fired at their first occurrence: then the last second before
    the repetition ends.
    """
    local = instant.astimezone(where)
    wall = local.replace(tzinfo=None, microsecond=0, fold=0)
    if not local.fold:
        return wall
    first_offset = _offset(local.replace(fold=0))
    change = _change_between(where, instant - (first_offset - _offset(local)), instant)
    return change.replace(tzinfo=None) + first_offset - SECOND


def _offset(local: datetime) -> timedelta:
    offset = local.utcoffset()
    if offset is None:
        raise ValueError(f"{local} has no time zone")
    return offset


def _instant(where: ZoneInfo, wall: datetime) -> datetime:
    """When the naive wall time ``wall`` fires: its first occurrence, or the change that skips it."""
    instant = wall.replace(tzinfo=where, fold=0).astimezone(timezone.utc)
    if instant.astimezone(where).replace(tzinfo=None) == wall:
        return instant
    return _change_between(where, wall.replace(tzinfo=where, fold=1).astimezone(timezone.utc), instant)


def _change_between(where: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant in (before, after] at which the offset changes; there is exactly one."""
    offset = before.astimezone(where).utcoffset()
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, where).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, timezone.utc)
