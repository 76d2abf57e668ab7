"""The storability check: what PostgreSQL's jsonb and SQLite's JSON cannot hold is refused
with its JSON path, before anything is written."""
from __future__ import annotations

import pytest
from orchestrator.storable import MAX_DEPTH, NotStorable, check_storable


def _nested(depth):
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("value, message", [
    ({"a": "x\x00y"}, r"\$.a has a NUL character"),
    ({"a\x00": 1}, r"\$ has a key that has a NUL character"),
    ({"a": ["\ud800"]}, r"\$.a\[0\] is not valid Unicode"),
    ([float("inf")], r"\$\[0\] is inf, which JSON cannot hold"),
    ({"n": float("nan")}, r"\$.n is nan"),
    ({"n": 10 ** 5000}, r"\$.n is an integer of more than 300 digits"),
    ({"n": -(10 ** 300)}, r"\$.n is an integer of more than 300 digits"),
    ({"body": b"\x89PNG"}, r"\$.body is bytes: binary data must be encoded \(base64\) first"),
    ({"s": {1, 2}}, r"\$.s is a set, which JSON cannot hold"),
    ({1: "a"}, r"\$ has a key that is not a string: 1"),
    (_nested(MAX_DEPTH + 1), rf"is nested more than {MAX_DEPTH} deep"),
])
def test_what_cannot_be_stored_is_refused_naming_where(value, message):
    with pytest.raises(NotStorable, match=message):
        check_storable(value)


@pytest.mark.parametrize("value", [None, True, 0, -1.5, 10 ** 299, "é \u2028 \U0001f600", {"a": [1, {"b": None}]},
                                   ("tuple", "ok"), _nested(MAX_DEPTH - 1)])
def test_json_values_pass(value):
    check_storable(value)
