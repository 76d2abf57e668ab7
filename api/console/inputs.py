"""The run form: fields built from a workflow's ``input_schema`` (JSON Schema), the input its
posted values make, and the API's 422 put beside the field it names.

Each field is named by its JSON path as jsonschema writes it (``$.address.city``,
``$['odd key']``), so a problem the API reports for a path finds its field. The form knows
strings, numbers, integers, booleans, enums, arrays of those (one item a line) and objects
with properties (a fieldset each); any other value (``oneOf``, arrays of objects, a free
object) gets a JSON box of its own, and the whole input can be sent as raw JSON.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCALARS = ("string", "number", "integer", "boolean")
REQUIRED = re.compile(r"^'(?P<name>(?:[^'\\]|\\.)*)' is a required property$")
PLAIN_KEY = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*$")            # as jsonschema's json_path writes keys
LAST_STEP = re.compile(r"(\.[a-zA-Z][a-zA-Z0-9_]*|\[\d+\]|\['(?:[^'\\]|\\.)*'\])$")
NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$")
ROOT = "$"


@dataclass
class Field:
    path: str
    key: str
    label: str
    kind: str                       # a scalar type, "enum", "list", "object" or "json"
    required: bool = False
    description: str | None = None
    default: Any = None
    choices: list[Any] = field(default_factory=list)      # enum values
    item: str | None = None          # a list's item type (a scalar type or "enum")
    children: list["Field"] = field(default_factory=list)

    def initial(self) -> str:
        """What the field holds before anything is posted: its schema's default, as posted."""
        value = self.default
        if self.kind == "enum":
            return str(self.choices.index(value)) if value in self.choices else ""
        if self.kind == "list":
            return "\n".join(str(v) for v in value) if isinstance(value, list) else ""
        if self.kind == "json":
            return "" if value is None else json.dumps(value, indent=2)
        if self.kind == "boolean":
            return "true" if value is True else ""
        return "" if value is None or self.kind == "object" else str(value)


def child(path: str, key: str) -> str:
    if PLAIN_KEY.match(key):
        return f"{path}.{key}"
    return "{}['{}']".format(path, key.replace("\\", "\\\\").replace("'", "\\'"))


def form_of(schema: Any) -> Field | None:
    """The form of an input_schema that is an object with properties; None: raw JSON only."""
    if not (isinstance(schema, Mapping) and _is(schema, "object") and isinstance(schema.get("properties"), Mapping)):
        return None
    return _field(ROOT, "input", schema, True)


def _is(schema: Mapping[str, Any], kind: str) -> bool:
    return schema.get("type") == kind


def _field(path: str, key: str, schema: Any, required: bool) -> Field:
    schema = schema if isinstance(schema, Mapping) else {}
    made = Field(path, key, str(schema.get("title") or key), _kind(schema), required, schema.get("description"),
                 schema.get("default"))
    if made.kind == "enum":
        made.choices = list(schema["enum"])
    elif made.kind == "list":
        items = schema["items"]
        made.item = "enum" if "enum" in items else items["type"]
        made.choices = list(items.get("enum", []))
    elif made.kind == "object":
        made.children = [_field(child(path, name), name, schema["properties"][name], required)
                         for name, required in _order(schema)]
    return made


def _order(schema: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """The properties, each with whether it is required: the required ones first, in the order
    ``required`` lists them (a stored definition keeps no order of properties), then the rest."""
    required = [name for name in schema.get("required") or () if name in schema["properties"]]
    return [(name, True) for name in dict.fromkeys(required)] + \
        [(name, False) for name in schema["properties"] if name not in required]


def _kind(schema: Mapping[str, Any]) -> str:
    if isinstance(schema.get("enum"), list) and schema["enum"] and all(_scalar(v) for v in schema["enum"]):
        return "enum"
    if any(key in schema for key in ("oneOf", "anyOf", "allOf", "$ref", "const", "not", "if")):
        return "json"
    kind = schema.get("type")
    if kind in SCALARS:
        return kind
    items = schema.get("items")
    if kind == "array" and isinstance(items, Mapping) and _kind(items) in (*SCALARS, "enum"):
        return "list"
    if kind == "object" and isinstance(schema.get("properties"), Mapping):
        return "object"
    return "json"


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


# -- posted values -> the input -------------------------------------------------------

def read(form: Field, posted: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The input the posted values make (a field left empty is left out, so the API names it
    when it is required), and what the form itself cannot read (JSON that does not parse), by
    path. A value that does not fit its type goes as typed, for the API to say so."""
    problems: dict[str, list[str]] = {}
    value = _read(form, posted, problems)
    return (value if isinstance(value, dict) else {}), problems


_MISSING = object()


def _read(f: Field, posted: Mapping[str, str], problems: dict[str, list[str]]) -> Any:
    if f.kind == "object":
        values = {}
        for sub in f.children:
            value = _read(sub, posted, problems)
            if value is not _MISSING:
                values[sub.key] = value
        return values if values or f.required else _MISSING
    if f.kind == "boolean":
        return posted.get(f.path) == "true"
    text = posted.get(f.path, "")
    if f.kind == "list":
        items = [line.strip() for line in text.splitlines() if line.strip()]
        item_kind = "choice" if f.item == "enum" else f.item or "string"
        return [_typed(item_kind, item, f.choices) for item in items] if items else _MISSING
    if not text.strip():
        return _MISSING
    if f.kind == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            problems[f.path] = [f"not valid JSON: {exc}"]
            return _MISSING
    return _typed(f.kind, text, f.choices)


def _typed(kind: str, text: str, choices: list[Any]) -> Any:
    """``text`` as a value of ``kind``: an enum's choice (``enum``: a select posts its index;
    ``choice``: a list's line, the value as written), a JSON number, a boolean; else the text,
    for the API to judge."""
    if kind == "enum" and text.isdigit() and int(text) < len(choices):        # a select's option
        return choices[int(text)]
    if kind == "choice":                                                       # a line of a list
        return next((choice for choice in choices if str(choice) == text.strip()), text)
    if kind in ("number", "integer") and NUMBER.match(text.strip()):
        return json.loads(text.strip())
    if kind == "boolean" and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    return text


# -- the API's 422 -> fields ----------------------------------------------------------

def beside(form: Field | None, messages: list[str]) -> dict[str, list[str]]:
    """The API's input problems (``"<json path>: <message>"``) by the path of the field they
    belong to: the field itself, else the nearest one above it; the root (``$``) for the rest."""
    paths = set(_paths(form)) if form else set()
    found: dict[str, list[str]] = {}
    for message in messages:
        path, _, text = message.partition(": ")
        required = REQUIRED.match(text)
        if required:
            path = child(path, re.sub(r"\\(.)", r"\1", required["name"]))
        while path not in paths and path != ROOT and LAST_STEP.search(path):
            path = LAST_STEP.sub("", path)
        found.setdefault(path if path in paths else ROOT, []).append(text)
    return found


def _paths(f: Field):
    yield f.path
    for sub in f.children:
        yield from _paths(sub)
