"""Parse and validate a workflow definition; validate an execution's input against it.

Every problem is collected, not only the first, and each message names its culprit: a node
by id, an edge by index and ends, a config or output string by its JSON path. Messages
never quote config values, which may hold secrets.
"""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

import yaml
from marshmallow import ValidationError
from yaml.composer import ComposerError

from orchestrator.definitions.graph import find_cycles
from orchestrator.definitions.input_schema import InputSchemaError, check_input_schema, input_errors
from orchestrator.definitions.model import DEFAULT_MAX_STEPS, EdgeSpec, NodeSpec, WorkflowDefinition
from orchestrator.definitions.schema import MAX_STEPS, DefinitionSchema, EdgeSchema, NodeSchema
from orchestrator.nodes.registry import UnknownNodeType, config_schema_of, get_node_type
from orchestrator.states import EdgeOutcome, OnError
from orchestrator.templating import (
    TemplateError,
    check_condition,
    check_template,
    child_path,
    is_templated,
    iter_strings,
)


# A definition's nesting (configs, outputs, schemas) and its templates, which are compiled
# when it is saved: together with MAX_NODES and MAX_EDGES they bound what one costs.
MAX_DEPTH = 32
MAX_TEMPLATE_LENGTH = 10_000
MAX_TEMPLATE_TOTAL = 100_000
# Steps an attempt of a node type that takes turns is given in the default max_steps.
TURN_ALLOWANCE = 10


class _Problems(ValueError):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = list(errors)


class DefinitionError(_Problems):
    """The definition is invalid; ``errors`` lists every problem found."""


class InputValidationError(_Problems):
    """The input does not match the definition's ``input_schema``; ``errors`` has JSON paths."""


_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


def _yaml_resolvers() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """SafeLoader's implicit types less YAML 1.1's yes/no/on/off booleans and dates."""
    resolvers = {
        first: [(tag, regexp) for tag, regexp in entries if tag not in (_BOOL, _TIMESTAMP)]
        for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    boolean = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
    for first in "tTfF":
        resolvers.setdefault(first, []).append((_BOOL, boolean))
    return resolvers


class _YamlLoader(yaml.SafeLoader):
    """``on: error`` has a key named "on", dates stay strings, and aliases are refused
    (a few lines of nested aliases expand to billions of nodes)."""

    yaml_implicit_resolvers = _yaml_resolvers()

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise ComposerError(None, None, "aliases (*name) are not allowed", self.peek_event().start_mark)
        return super().compose_node(parent, index)


def load_document(source: str | bytes | Mapping[str, Any], what: str = "definition") -> dict[str, Any]:
    """A mapping from JSON or YAML text (YAML without aliases, see ``_YamlLoader``), or a copy
    of a mapping; DefinitionError naming ``what`` otherwise."""
    try:
        if isinstance(source, Mapping):
            data: Any = copy.deepcopy(dict(source))
        else:
            text = source.decode("utf-8") if isinstance(source, bytes) else source
            try:
                data = json.loads(text)
            except ValueError:
                data = yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a SafeLoader subclass
    except UnicodeDecodeError:
        raise DefinitionError([f"the {what} is not UTF-8 text"]) from None
    except RecursionError:
        raise DefinitionError([f"the {what} is nested too deeply"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise DefinitionError([f"not valid JSON or YAML: {problem}{where}"]) from None
    if not isinstance(data, dict):
        raise DefinitionError([f"a workflow {what} must be a mapping at the top level, not {type(data).__name__}"])
    return data


def _flatten(messages: Any, path: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested error messages as (field path, message) pairs."""
    if isinstance(messages, dict):
        return [
            pair
            for key, value in messages.items()
            for pair in _flatten(value, path if key == "_schema" else child_path(path, key))
        ]
    if isinstance(messages, list):
        return [pair for message in messages for pair in _flatten(message, path)]
    return [(path, str(messages))]


def _subject(label: str, where: str) -> str:
    return " ".join(part for part in (label, where) if part)


def _describe(label: str, messages: Any, path: str = "") -> list[str]:
    return [f"{_subject(label, where)}: {message}" for where, message in _flatten(messages, path)]


def _template_errors(label: str, value: Any, path: str) -> list[str]:
    errors = []
    for where, text in iter_strings(value, path):
        if len(text) > MAX_TEMPLATE_LENGTH and is_templated(text):
            errors.append(f"{_subject(label, where)}: a template of {len(text)} characters; "
                          f"the limit is {MAX_TEMPLATE_LENGTH}")
            continue
        try:
            check_template(text)
        except TemplateError as exc:
            errors.append(f"{_subject(label, where)}: {exc}")
    return errors


def _size_errors(data: dict[str, Any]) -> list[str]:
    """Nesting and the total size of its templates: each template is compiled (and cached)
    when the definition is saved, so their total bounds the cost of saving and running one."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                return [f"the definition is nested more than {MAX_DEPTH} deep"]
            stack.extend((item, depth + 1) for item in (value.values() if isinstance(value, dict) else value))
    total = sum(len(text) for _, text in iter_strings(data) if is_templated(text))
    total += sum(len(edge["condition"]) for edge in data.get("edges") or []
                 if isinstance(edge, dict) and isinstance(edge.get("condition"), str))
    if total > MAX_TEMPLATE_TOTAL:
        return [f"the definition holds {total} characters of templates and conditions; "
                f"the limit is {MAX_TEMPLATE_TOTAL}"]
    return []


def _config_errors(node: NodeSpec) -> list[str]:
    """The config against its node type's schema; a field holding a template is only known
    once rendered, so its errors wait for run time (where the rendered config is loaded)."""
    label = f"node {node.id!r}"
    try:
        node_type = get_node_type(node.type)
    except UnknownNodeType as exc:
        return [f"{label}: {exc}"]
    schema = config_schema_of(node_type)  # type: ignore[arg-type]  # a class is hashable: python/mypy#11470
    try:
        schema.load(node.config)
    except ValidationError as exc:
        declared = {field.data_key or name for name, field in schema.load_fields.items()}
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return _describe(label, {
            key: value for key, value in messages.items()
            if not (key in declared and is_templated(node.config.get(key)))
        }, "config")
    return []


def _node_errors(raw_nodes: list[Any]) -> tuple[dict[str, NodeSpec], list[str], list[str]]:
    """(valid nodes by id, every node id written, errors)."""
    nodes: dict[str, NodeSpec] = {}
    written: dict[str, None] = {}  # an ordered set
    errors: list[str] = []
    for index, raw in enumerate(raw_nodes):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(raw_id, str):
            if raw_id in written:
                errors.append(f"duplicate node id {raw_id!r}")
                continue
            written[raw_id] = None
        label = f"node {raw_id!r}" if isinstance(raw_id, str) else f"nodes[{index}]"
        if isinstance(raw, dict):
            errors += _template_errors(label, raw.get("config"), "config")
            errors += _template_errors(label, (raw.get("context_write") or {}).get("value") if isinstance(raw.get("context_write"), dict) else None, "context_write.value")
        try:
            node = NodeSchema().load(raw)
        except ValidationError as exc:
            errors += _describe(label, exc.messages)
            continue
        nodes[node.id] = node
        errors += _config_errors(node)
    return nodes, list(written), errors


def _edge_errors(
    raw_edges: list[Any], nodes: dict[str, NodeSpec], written: set[str]
) -> tuple[list[EdgeSpec], list[str]]:
    edges: list[EdgeSpec] = []
    errors: list[str] = []
    for index, raw in enumerate(raw_edges):
        try:
            edge = EdgeSchema().load(raw)
        except ValidationError as exc:
            errors += _describe(f"edges[{index}]", exc.messages)
            continue
        label = f"edges[{index}] ({edge.source} -> {edge.target})"
        for end, node_id in (("source", edge.source), ("target", edge.target)):
            if node_id not in written:
                errors.append(f"{label}: {end} {node_id!r} is not a node")
        if edge.condition is not None:
            try:
                check_condition(edge.condition)
            except TemplateError as exc:
                errors.append(f"{label}: {exc}")
        source = nodes.get(edge.source)
        if edge.on is EdgeOutcome.ERROR and source is not None and source.on_error is not OnError.FAIL_BRANCH:
            errors.append(
                f"{label}: an 'on: error' edge needs on_error: fail_branch on node {edge.source!r}, "
                f"which has on_error: {source.on_error.value}"
            )
        edges.append(edge)
    return edges, errors


def default_max_steps(nodes: Mapping[str, NodeSpec]) -> int:
    """``max_steps`` when a definition leaves it out: twice (a rerun after a lost worker) the
    steps of every attempt of every node, TURN_ALLOWANCE steps an attempt for the node types
    that take turns; at least DEFAULT_MAX_STEPS, at most MAX_STEPS. A map's children are
    executions with their own count: its node is one step here."""
    attempts = sum(node.retry.max_attempts * (TURN_ALLOWANCE if get_node_type(node.type).takes_turns else 1)
                   for node in nodes.values())
    return min(MAX_STEPS, max(DEFAULT_MAX_STEPS, 2 * attempts))


def _max_steps_errors(max_steps: int | None, nodes: Mapping[str, NodeSpec]) -> list[str]:
    """A run in which every node runs takes a step for each: fewer could never finish."""
    if max_steps is None or max_steps >= len(nodes):
        return []
    return [f"max_steps: {max_steps} is fewer than the {len(nodes)} nodes, and each node that runs takes a step; "
            f"set it to at least {len(nodes)}, or leave it out to get what the definition needs"]


def _input_schema_errors(input_schema: dict[str, Any] | None) -> list[str]:
    if input_schema is None:
        return []
    try:
        check_input_schema(input_schema)
    except InputSchemaError as exc:
        return exc.errors
    return []


def parse_definition(source: str | bytes | Mapping[str, Any]) -> WorkflowDefinition:
    """A valid definition from JSON or YAML text or a mapping; DefinitionError lists every problem."""
    data = load_document(source)
    errors = _size_errors(data)
    if errors:
        raise DefinitionError(errors)
    try:
        top = DefinitionSchema().load(data)
    except ValidationError as exc:
        errors += _describe("", exc.messages)
        top = exc.valid_data if isinstance(exc.valid_data, dict) else {}
    nodes, written, node_errors = _node_errors(top.get("nodes") or [])
    known = set(written)
    edges, edge_errors = _edge_errors(top.get("edges") or [], nodes, known)
    errors += node_errors + edge_errors
    pairs = [(edge.source, edge.target) for edge in edges if edge.source in known and edge.target in known]
    errors += [f"cycle: {' -> '.join([*cycle, cycle[0]])}" for cycle in find_cycles(written, pairs)]
    errors += _input_schema_errors(top.get("input_schema"))
    errors += _max_steps_errors(top.get("max_steps"), nodes)
    errors += _template_errors("", top.get("output"), "output")
    if errors:
        raise DefinitionError(errors)
    return WorkflowDefinition(
        name=top["name"],
        description=top["description"],
        timeout_seconds=top["timeout_seconds"],
        max_steps=top["max_steps"] or default_max_steps(nodes),
        input_schema=top["input_schema"],
        nodes=nodes,
        edges=tuple(edges),
        output=top["output"],
    )


def validate_input(definition: WorkflowDefinition, input: Any) -> None:  # noqa: A002 - the contract's name
    """Raise InputValidationError if ``input`` does not match the definition's input_schema."""
    if definition.input_schema is None:
        return
    problems = input_errors(definition.input_schema, input)
    if problems:
        raise InputValidationError(problems)
