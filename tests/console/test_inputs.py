"""The run form's fields from an input_schema, the input its posted values make, and the API's
422 messages put beside their fields (no browser: tests/console/test_run.py drives the form)."""
from __future__ import annotations

from api.console.inputs import form_of, read, beside
from orchestrator.definitions.input_schema import input_errors

SCHEMA = {"type": "object", "required": ["topic", "count", "address"], "properties": {
    "topic": {"type": "string", "title": "Topic", "description": "What to write about"},
    "count": {"type": "integer", "default": 3},
    "ratio": {"type": "number"},
    "draft": {"type": "boolean", "default": True},
    "tone": {"enum": ["plain", "warm", 7]},
    "tags": {"type": "array", "items": {"type": "string"}},
    "sizes": {"type": "array", "items": {"type": "integer"}},
    "address": {"type": "object", "required": ["city"], "properties": {
        "city": {"type": "string"}, "odd key": {"type": "integer"}}},
    "extra": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
}}


def fields(form):
    yield form
    for sub in form.children:
        yield from fields(sub)


def test_each_kind_of_property_gets_its_field_named_by_its_json_path():
    form = form_of(SCHEMA)
    shown = {f.path: (f.kind, f.required, f.initial()) for f in fields(form)}
    assert shown == {
        "$": ("object", True, ""), "$.topic": ("string", True, ""), "$.count": ("integer", True, "3"),
        "$.ratio": ("number", False, ""), "$.draft": ("boolean", False, "true"), "$.tone": ("enum", False, ""),
        "$.tags": ("list", False, ""), "$.sizes": ("list", False, ""), "$.address": ("object", True, ""),
        "$.address.city": ("string", True, ""), "$.address['odd key']": ("integer", False, ""),
        "$.extra": ("json", False, "")}
    assert [f.key for f in form.children] == ["topic", "count", "address", "ratio", "draft", "tone", "tags", "sizes",
                                              "extra"]                     # the required ones first
    assert form.children[0].label == "Topic" and form.children[0].description == "What to write about"
    assert form_of({"type": "object"}) is None and form_of(None) is None and form_of({"type": "array"}) is None


def test_posted_values_become_typed_json_and_empty_fields_are_left_out():
    form = form_of(SCHEMA)
    value, problems = read(form, {"$.topic": "Agents", "$.count": "12", "$.ratio": "0.5", "$.tone": "2",
                                  "$.tags": "a\n\n b \n", "$.sizes": "1\n2", "$.address.city": "Oslo",
                                  "$.address['odd key']": "-4", "$.extra": '"x"'})
    assert problems == {}
    assert value == {"topic": "Agents", "count": 12, "ratio": 0.5, "draft": False, "tone": 7, "tags": ["a", "b"],
                     "sizes": [1, 2], "address": {"city": "Oslo", "odd key": -4}, "extra": "x"}
    value, problems = read(form, {"$.count": "twelve", "$.draft": "true", "$.extra": "{nope"})
    assert value == {"count": "twelve", "draft": True, "address": {}}          # the API judges "twelve"
    assert problems == {"$.extra": ["not valid JSON: Expecting property name enclosed in double quotes: "
                                    "line 1 column 2 (char 1)"]}


def test_the_apis_problems_go_beside_the_field_they_name():
    form = form_of(SCHEMA)
    value, _ = read(form, {"$.count": "twelve", "$.sizes": "1\nx", "$.address['odd key']": "y"})
    found = beside(form, input_errors(SCHEMA, value))
    assert found == {"$.topic": ["'topic' is a required property"], "$.count": ["'twelve' is not of type 'integer'"],
                     "$.sizes": ["'x' is not of type 'integer'"], "$.address.city": ["'city' is a required property"],
                     "$.address['odd key']": ["'y' is not of type 'integer'"]}
    assert beside(None, ["$.a: wrong", "$: 'b' is a required property"]) == {
        "$": ["wrong", "'b' is a required property"]}
