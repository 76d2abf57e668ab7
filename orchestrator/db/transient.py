"""Transient database errors, and running a unit of work again after one (DESIGN section 14).

A deadlock, a serialization failure, a connection that dropped or a server that is
restarting says nothing about the work: the same transaction, run again from its start,
may well succeed. ``transient`` names such an error (None for any other, which is
persistent: a constraint, a value the database refuses, a bug), and ``run_again`` runs a
whole transaction again after one, with jittered exponential waits, until it succeeds, the
error is persistent, or ``seconds`` have passed.

Only whole transactions are run again: ``call`` opens its connection or session, does all
its reads and writes and commits. A transaction whose COMMIT may have landed before its
connection dropped is safe to run again only when every write in it is conditional on what
it read (the engine's are: a step moves only from the state it was read in).
"""
from __future__ import annotations

import logging
import random
import time
from typing import Callable, TypeVar

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQLSTATEs that end a transaction without saying anything about its work (PostgreSQL).
_STATES = {
    "40P01": "deadlock",
    "40001": "serialization failure",
    "57P01": "server shut down by its administrator",
    "57P02": "server crashed",
    "57P03": "server starting up or shutting down",
    "53300": "too many connections",
}
FIRST_WAIT_SECONDS = 0.02
MAX_WAIT_SECONDS = 1.0
# How long the engine keeps running a transaction again: longer than a database restart.
ENGINE_SECONDS = 30.0


def transient(exc: BaseException) -> str | None:
    """What transient database error ``exc`` is, in words, or None when it is not one."""
    if not isinstance(exc, DBAPIError):
        return None
    if exc.connection_invalidated:
        return "connection lost"
    orig = exc.orig
    state = getattr(orig, "sqlstate", None)
    if state:
        return _STATES.get(state) or ("connection failure" if state.startswith("08") else None)
    module = type(orig).__module__
    if module.startswith("psycopg") and type(orig).__name__ == "OperationalError":
        return "connection failure"            # refused, reset, closed: psycopg gives these no SQLSTATE
    if module == "sqlite3" and any(s in str(orig) for s in ("database is locked", "database is busy")):
        return "database locked"
    return None


def describe(exc: DBAPIError) -> str:
    """``ErrorName: first line of its message``, for a step's error and for logs."""
    orig = exc.orig if exc.orig is not None else exc
    return f"{type(orig).__name__}: {(str(orig).splitlines() or [''])[0]}"


def run_again(call: Callable[[], T], what: str, seconds: float = ENGINE_SECONDS,
              safe: Callable[[], bool] = lambda: True) -> T:
    """``call()``, run again after each transient error while ``safe()`` says it may be, until
    it succeeds or ``seconds`` have passed since the first try (then the last error is raised,
    as is a persistent one)."""
    deadline = time.monotonic() + seconds
    wait = FIRST_WAIT_SECONDS
    while True:
        try:
            return call()
        except DBAPIError as exc:
            name = transient(exc)
            if name is None or time.monotonic() + wait > deadline or not safe():
                raise
            log.warning("%s: %s (%s); running it again", what, name, describe(exc))
        time.sleep(wait * random.uniform(0.5, 1.5))
        wait = min(MAX_WAIT_SECONDS, wait * 2)
