"""The one check of what the databases can store, made before a value is written.

PostgreSQL's jsonb and SQLite's JSON text both take JSON; what they cannot take fails the
whole transaction, so a value is checked first and refused with a message that names its
JSON path: a NUL character or a lone surrogate in a string or a key, NaN or an infinity, an
integer of more than ``MAX_INT_DIGITS`` digits, bytes, a key that is not a string, a type
JSON does not have, or nesting deeper than ``MAX_DEPTH``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 64
# Far beyond any count, and below both Python's int-to-text limit (4,300 digits) and the
# largest float, so every JSON reader can take the number.
MAX_INT_DIGITS = 300
_INT_LIMIT = 10 ** MAX_INT_DIGITS


def child_path(path: str, key: Any) -> str:
    """The JSON path of ``key`` (a dict key or list index) inside the value at ``path``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


class NotStorable(ValueError):
    """A value the databases cannot store; the message names where and why."""


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "has a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None


def _problem(value: Any) -> str | None:
    """Why ``value`` itself (not its children) cannot be stored, or None."""
    if value is None or isinstance(value, (bool, list, tuple, Mapping)):
        return None
    if isinstance(value, int):
        return None if -_INT_LIMIT < value < _INT_LIMIT else f"is an integer of more than {MAX_INT_DIGITS} digits"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"is {value!r}, which JSON cannot hold"
    if isinstance(value, str):
        return _text_problem(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "is bytes: binary data must be encoded (base64) first"
    return f"is a {type(value).__name__}, which JSON cannot hold"


def check_storable(value: Any, path: str = "$") -> None:
    """Raise NotStorable unless ``value`` can be written to a JSON column of either database."""
    stack = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        problem = _problem(item)
        if problem:
            raise NotStorable(f"{where} {problem}")
        if isinstance(item, (list, tuple, Mapping)) and depth >= MAX_DEPTH:
            raise NotStorable(f"{where} is nested more than {MAX_DEPTH} deep")
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise NotStorable(f"{where} has a key that is not a string: {key!r}")
                key_problem = _text_problem(key)
                if key_problem:
                    raise NotStorable(f"{where} has a key that {key_problem}")
                stack.append((child, child_path(where, key), depth + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, child_path(where, index), depth + 1) for index, child in enumerate(item))
