"""Cron slots in a time zone, across DST changes, with a fixed clock: no servers."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from orchestrator.schedules.cron import CronError, check, describe, last_slot, next_run, next_slot, zone

NY = "America/New_York"
SPRING_FORWARD = datetime(2024, 3, 10, tzinfo=ZoneInfo(NY))   # 02:00 EST -> 03:00 EDT
FALL_BACK = datetime(2024, 11, 3, tzinfo=ZoneInfo(NY))        # 02:00 EDT -> 01:00 EST


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def slots(cron: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Every slot in (start, end], by repeated next_slot."""
    found, at = [], start
    while (at := next_slot(cron, tz, at)) <= end:
        found.append(at)
    return found


def on_day(cron: str, day: datetime, tz: str = NY) -> list[datetime]:
    return slots(cron, tz, day - timedelta(microseconds=1), day + timedelta(days=1) - timedelta(microseconds=1))


@pytest.mark.parametrize("day, expected", [(SPRING_FORWARD, "2024-03-10 06:30"),   # 01:30 EST
                                           (FALL_BACK, "2024-11-03 05:30")])       # 01:30 EDT, not 01:30 EST
def test_0130_new_york_runs_exactly_once_on_both_change_days(day, expected):
    assert on_day("30 1 * * *", day) == [utc(expected)]
    assert on_day("0 30 1 * * *", day) == [utc(expected)]         # the same with a seconds field


def test_a_wall_time_the_spring_change_skips_runs_once_at_the_change():
    assert on_day("30 2 * * *", SPRING_FORWARD) == [utc("2024-03-10 07:00")]       # 03:00 EDT
    assert on_day("30 2 * * *", SPRING_FORWARD + timedelta(days=1)) == [utc("2024-03-11 06:30")]
    # Slots in the gap and the wall time right after it are one instant: one run.
    assert on_day("0,30 1-3 * * *", SPRING_FORWARD) == [
        utc("2024-03-10 06:00"), utc("2024-03-10 06:30"), utc("2024-03-10 07:00"), utc("2024-03-10 07:30")]


def test_the_repeated_hour_runs_only_at_its_first_occurrence():
    day = on_day("*/30 * * * *", FALL_BACK)
    local = [s.astimezone(ZoneInfo(NY)).strftime("%H:%M%z") for s in day[:6]]
    assert local == ["00:00-0400", "00:30-0400", "01:00-0400", "01:30-0400", "02:00-0500", "02:30-0500"]
    assert len(day) == 48


def test_next_and_last_slot_from_inside_the_second_pass_of_the_repeated_hour():
    inside = utc("2024-11-03 06:20")                      # 01:20 EST, the second 01:20 of the night
    assert next_slot("15,45 1 * * *", NY, inside) == utc("2024-11-04 06:15")
    assert last_slot("15,45 1 * * *", NY, inside) == utc("2024-11-03 05:45")
    assert next_slot("*/30 * * * *", NY, inside) == utc("2024-11-03 07:00")


def test_last_slot_is_the_latest_at_or_before():
    assert last_slot("30 2 * * *", NY, utc("2024-03-10 07:00")) == utc("2024-03-10 07:00")
    assert last_slot("30 2 * * *", NY, utc("2024-03-10 06:59:59")) == utc("2024-03-09 07:30")
    assert last_slot("0 0 * * *", "UTC", utc("2024-05-01 00:00")) == utc("2024-05-01 00:00")
    assert last_slot("0 0 * * *", "UTC", utc("2024-05-01 23:59:59.5")) == utc("2024-05-01 00:00")


def test_seconds_come_first_in_six_fields():
    at = utc("2024-05-01 10:00:07.25")
    assert slots("*/15 * * * * *", "UTC", at, at + timedelta(seconds=40)) == [
        utc("2024-05-01 10:00:15"), utc("2024-05-01 10:00:30"), utc("2024-05-01 10:00:45")]
    assert next_slot("* * * * *", "UTC", at) == utc("2024-05-01 10:01")


def test_other_zones_keep_their_wall_time():
    assert next_slot("0 9 * * MON-FRI", "Asia/Kolkata", utc("2024-05-03 04:00")) == utc("2024-05-06 03:30")
    assert next_slot("0 9 * * *", "Europe/Paris", utc("2024-01-15 12:00")) == utc("2024-01-16 08:00")
    assert next_slot("0 9 * * *", "Europe/Paris", utc("2024-07-15 12:00")) == utc("2024-07-16 07:00")


def test_the_window_bounds_the_slots():
    start, end = utc("2024-05-01 12:00"), utc("2024-05-03 12:00")
    assert next_run("0 12 * * *", "UTC", utc("2024-04-01 00:00"), start, end) == start   # start_at is inclusive
    assert next_run("0 12 * * *", "UTC", start, start, end) == utc("2024-05-02 12:00")
    assert next_run("0 12 * * *", "UTC", utc("2024-05-02 12:00"), start, end) == end      # end_at too
    assert next_run("0 12 * * *", "UTC", end, start, end) is None                        # the window has closed
    assert next_run("0 12 * * *", "UTC", end) == utc("2024-05-04 12:00")


@pytest.mark.parametrize("cron, message", [
    ("61 * * * *", "invalid cron expression '61 * * * *': minute field '61' is not valid"),
    ("0 0 * 13 *", "invalid cron expression '0 0 * 13 *': month field '13' is not valid"),
    ("*/5 * * * * 9", "invalid cron expression '*/5 * * * * 9': day of week field '9' is not valid"),
    ("* * * *", "invalid cron expression '* * * *': expected 5 fields (minute hour day-of-month month "
                "day-of-week) or 6 with seconds first, got 4"),
    ("0 0 30 2 *", "invalid cron expression '0 0 30 2 *': it matches no date"),
    ("@fortnightly", "invalid cron expression '@fortnightly': unknown alias; use one of @yearly, @annually"),
])
def test_invalid_expressions_are_named_with_the_reason(cron, message):
    with pytest.raises(CronError) as raised:
        check(cron)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../../etc/passwd", "utc"])
def test_unknown_time_zones_are_refused(name):
    with pytest.raises(CronError, match=f"unknown time zone {name!r}"):
        zone(name)


@pytest.mark.parametrize("cron, tz, text", [
    ("30 1 * * *", NY, "At 01:30 (America/New_York)"),
    ("*/5 * * * * *", "UTC", "Every 5 seconds (UTC)"),
    ("0 9 * * MON-FRI", "Europe/Paris", "At 09:00, Monday through Friday (Europe/Paris)"),
    ("@daily", "UTC", "At 00:00 (UTC)"),
])
def test_a_human_description(cron, tz, text):
    assert describe(cron, tz) == text


@pytest.mark.parametrize("alias, after, expected", [
    ("@daily", "2024-05-02 10:00", "2024-05-03 04:00"),       # midnight in New York (EDT)
    ("@midnight", "2024-05-02 10:00", "2024-05-03 04:00"),
    ("@hourly", "2024-05-02 10:20", "2024-05-02 11:00"),
    ("@weekly", "2024-05-02 10:00", "2024-05-05 04:00"),      # Sunday
    ("@monthly", "2024-05-02 10:00", "2024-06-01 04:00"),
    ("@YEARLY", "2024-05-02 10:00", "2025-01-01 05:00"),      # EST in January
])
def test_aliases_run_in_the_schedules_zone(alias, after, expected):
    assert next_slot(alias, NY, utc(after)) == utc(expected)
