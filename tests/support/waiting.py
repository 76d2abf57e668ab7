"""Waiting for what a test needs to have happened, instead of sleeping for a guess."""
from __future__ import annotations

import time
from typing import Callable, TypeVar

import psycopg

T = TypeVar("T")


def until(what: str, condition: Callable[[], T], timeout: float = 20.0, interval: float = 0.02) -> T:
    """``condition()`` once it is truthy, polled every ``interval`` seconds; an AssertionError
    naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting until {what}"
        time.sleep(interval)
    return found


def activity(url: str, where: str = "true") -> int:
    """Sessions open on the PostgreSQL database of ``url`` that match ``where`` (pg_stat_activity,
    read on a connection of its own: a transaction would see one snapshot of it)."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.replace("+psycopg", "").rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        return conn.execute(f"SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND {where}",
                            (name,)).fetchone()[0]


def waiting_for_a_lock(url: str) -> int:
    """Sessions on the database of ``url`` blocked on a lock (a row, a table, a transaction)."""
    return activity(url, "wait_event_type = 'Lock'")
