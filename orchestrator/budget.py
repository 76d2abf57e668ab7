"""What one template render may spend: wall time, and the size and depth of what it builds.

``RenderBudget`` is the limit; ``spending(budget)`` runs a render under it. The sandbox's
hooks call ``check_size`` on every string and list they produce (or are about to produce),
and a watchdog thread interrupts the render's thread once the time is up, even inside a
``{% for %}`` loop that calls no hook: it raises an exception in that thread with
``PyThreadState_SetAsyncExc``, the way a debugger interrupts Python code. C code that runs
long without returning to Python is not interrupted; the size checks keep such calls small.
"""
from __future__ import annotations

import ctypes
import heapq
import itertools
import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RenderBudget:
    """Limits of one render (a node's config, an output, a condition)."""

    seconds: float = 5.0
    # The largest string (characters) or collection (items, nested ones counted) a render builds.
    max_size: int = 1_000_000
    # The deepest nesting of lists and mappings a render returns.
    max_depth: int = 64


DEFAULT_BUDGET = RenderBudget()


class OverBudget(Exception):
    """A render went over its budget; the message says how."""


class OutOfTime(BaseException):
    """Raised by the watchdog inside the render's thread: a BaseException, so that no
    ``except Exception`` in a filter or in Jinja swallows it on its way out of the render."""


@dataclass
class _Spending:
    budget: RenderBudget
    deadline: float
    ticket: int = -1      # the watchdog's


_current: ContextVar[_Spending | None] = ContextVar("render_budget", default=None)


def current_budget() -> RenderBudget:
    spending = _current.get()
    return spending.budget if spending else DEFAULT_BUDGET


def check_time() -> None:
    spending = _current.get()
    if spending is not None and time.monotonic() > spending.deadline:
        _watchdog.disarm(spending.ticket)   # this error says it; the watchdog must not strike as well
        raise OverBudget(f"took longer than {spending.budget.seconds:g} s")


_SCALARS = frozenset({int, float, bool, type(None)})


def _sized_children(value: Any) -> list[Any]:
    """The strings and collections in a collection: numbers and the like add nothing to its size."""
    children = [*value.keys(), *value.values()] if isinstance(value, Mapping) else value
    return [child for child in children if type(child) not in _SCALARS]


def size_of(value: Any, limit: int, max_depth: int) -> int:
    """Characters of strings plus items of collections in ``value``, shared parts counted each
    time they appear (as JSON would write them); stops counting once past ``limit`` or deeper
    than ``max_depth`` (OverBudget)."""
    total, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, (Mapping, list, tuple, set, frozenset)):
            if depth >= max_depth:
                raise OverBudget(f"would nest values more than {max_depth} deep")
            total += len(item)
            if total <= limit:
                stack.extend((child, depth + 1) for child in _sized_children(item))
        if total > limit:
            raise OverBudget(f"would build a value larger than {limit} characters or items")
    return total


def check_size(value: Any) -> Any:
    """``value`` if it is within the current budget's size and depth, else OverBudget."""
    budget = current_budget()
    size_of(value, budget.max_size, budget.max_depth)
    check_time()
    return value


def check_length(length: int) -> None:
    """OverBudget if a value of ``length`` characters or items would be too large."""
    limit = current_budget().max_size
    if length > limit:
        raise OverBudget(f"would build a value larger than {limit} characters or items")


class _Watchdog:
    """One thread per process that interrupts renders past their deadline."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, int]] = []   # (deadline, ticket, thread id)
        self._armed: dict[int, int] = {}                # ticket -> thread id, until disarmed
        self._fired: set[int] = set()                   # tickets whose deadline struck, until disarmed
        self._tickets = itertools.count()
        self._pid = -1

    def arm(self, deadline: float) -> int:
        with self._lock:
            if self._pid != os.getpid():    # first use, or a forked child (threads do not survive fork)
                self._pid, self._heap, self._armed, self._fired = os.getpid(), [], {}, set()
                threading.Thread(target=self._run, name="render-watchdog", daemon=True).start()
            ticket = next(self._tickets)
            self._armed[ticket] = threading.get_ident()
            heapq.heappush(self._heap, (deadline, ticket, threading.get_ident()))
            self._lock.notify()
            return ticket

    def disarm(self, ticket: int) -> bool:
        """Stop watching; True if the deadline had already fired (its exception is then cleared
        if it is still pending, so that it cannot strike code after the render). Disarming
        twice is harmless."""
        with self._lock:
            fired = self._armed.pop(ticket, None) is None and ticket in self._fired
            self._fired.discard(ticket)
        if fired:
            _raise_in(threading.get_ident(), None)
        return fired

    def _run(self) -> None:
        pid = os.getpid()
        with self._lock:
            while self._pid == pid:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._lock.wait()
                    continue
                deadline, ticket, thread_id = self._heap[0]
                if time.monotonic() < deadline:
                    self._lock.wait(deadline - time.monotonic())
                    continue
                heapq.heappop(self._heap)
                del self._armed[ticket]
                self._fired.add(ticket)
                _raise_in(thread_id, OutOfTime)


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exception) if exception else None)


_watchdog = _Watchdog()


@contextmanager
def spending(budget: RenderBudget) -> Iterator[None]:
    """Run the block under ``budget``; OverBudget once it runs out. Nested blocks share the
    outer deadline."""
    if _current.get() is not None:
        yield
        return
    deadline = time.monotonic() + budget.seconds
    spent = _Spending(budget, deadline)
    token = _current.set(spent)
    try:
        spent.ticket = _watchdog.arm(deadline)
        try:
            yield
        finally:
            fired = _watchdog.disarm(spent.ticket)
        if fired:
            raise OutOfTime
    except OutOfTime:
        raise OverBudget(f"took longer than {budget.seconds:g} s") from None
    finally:
        _current.reset(token)
