"""Workflows in Python: a builder whose ``to_dict()`` is the document a YAML file would hold
(only what was given, in the order given), checked by the same ``orchestrator.definitions``
validation the API runs.

    wf = workflow("research-digest", timeout_seconds=600, input_schema={"type": "object"})
    fetch = wf.add(http_request("fetch", url="{{ input.url }}").retry(max_attempts=3).timeout(30))
    digest = wf.add(transform("digest", output={"title": "{{ nodes.fetch.output.json.title }}"}))
    fetch.then(digest, when="nodes.fetch.output.status_code == 200")
    wf.validate()          # the WorkflowDefinition, or DefinitionError naming each culprit

Edges are kept by the workflow in the order they are made (``a >> b``, ``[a, b] >> c``,
``a.then(b, when=...)``, ``a.on_failure(b)``); a node linked to one that is in a workflow
joins that workflow.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self, TypeAlias, TypeVar, Union, overload

import yaml

from orchestrator.definitions import WorkflowDefinition, parse_definition

# What a config, an output or an input holds: JSON, with templates in its strings.
JSON: TypeAlias = Union[str, int, float, bool, None, Sequence["JSON"], Mapping[str, "JSON"]]
OnErrorPolicy = Literal["fail", "continue", "fail_branch", "default"]
N = TypeVar("N", bound="Node")


def plain(value: Any) -> Any:
    """``value`` as the plain dicts and lists a parsed YAML or JSON document holds."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(item) for item in value]
    return value


def given(**values: Any) -> dict[str, Any]:
    """The values that were given (not None), as plain JSON."""
    return {key: plain(value) for key, value in values.items() if value is not None}


class Node:
    """One node: its id, type and config, and the node-level settings (``retry``, ``timeout``,
    ``on_error``...), each set by a method that returns the node, so they chain."""

    def __init__(self, id: str, type: str, config: Mapping[str, JSON] | None = None) -> None:
        self.id = id
        self.type = type
        self.config: dict[str, Any] = plain(config or {})
        self.settings: dict[str, Any] = {}
        self.workflow: Workflow | None = None

    def __repr__(self) -> str:
        return f"Node({self.id!r}, {self.type!r})"

    def named(self, name: str) -> Self:
        """A name for people (the console's graph); default: the id."""
        self.settings["name"] = name
        return self

    def retry(self, *, max_attempts: int | None = None, backoff_seconds: float | None = None,
              backoff_factor: float | None = None, max_backoff_seconds: float | None = None) -> Self:
        self.settings["retry"] = given(max_attempts=max_attempts, backoff_seconds=backoff_seconds,
                                       backoff_factor=backoff_factor, max_backoff_seconds=max_backoff_seconds)
        return self

    def timeout(self, seconds: float) -> Self:
        """Each attempt's timeout (the node's ``timeout_seconds``, default 300)."""
        self.settings["timeout_seconds"] = seconds
        return self

    def on_error(self, policy: OnErrorPolicy, *, default_output: JSON = None) -> Self:
        """What a failure does after the last attempt; ``default`` completes with ``default_output``."""
        self.settings["on_error"] = policy
        if default_output is not None:
            self.settings["default_output"] = plain(default_output)
        return self

    def write_context(self, namespace: str, value: JSON, *, mode: Literal["merge", "replace"] | None = None) -> Self:
        """``context_write``: ``value`` (templates see ``output``) into the shared context ``namespace``."""
        self.settings["context_write"] = given(namespace=namespace, value=value, mode=mode)
        return self

    def at(self, x: float, y: float) -> Self:
        """Its place on the editor's canvas."""
        self.settings["position"] = {"x": x, "y": y}
        return self

    def then(self, target: N, *, when: str | None = None) -> N:
        """An edge to ``target``, taken when this node completes (and ``when``, a condition,
        is true); returns ``target``."""
        self._edge(target, given(condition=when))
        return target

    def on_failure(self, target: N) -> N:
        """An ``on: error`` edge to ``target``, taken when this node fails; sets this node's
        ``on_error`` to ``fail_branch`` unless it was set. Returns ``target``."""
        self.settings.setdefault("on_error", "fail_branch")
        self._edge(target, {"on": "error"})
        return target

    @overload
    def __rshift__(self, other: N) -> N: ...
    @overload
    def __rshift__(self, other: Sequence[N]) -> list[N]: ...

    def __rshift__(self, other: N | Sequence[N]) -> N | list[N]:
        """``a >> b`` (returns ``b``) or ``a >> [b, c]`` (returns ``[b, c]``)."""
        if isinstance(other, Node):
            return self.then(other)
        return [self.then(target) for target in other]

    def __rrshift__(self, other: Sequence["Node"]) -> Self:
        """``[a, b] >> c``: an edge from each of ``a`` and ``b``; returns ``c``."""
        for source in other:
            source.then(self)
        return self

    def _edge(self, target: "Node", extra: dict[str, Any]) -> None:
        workflow = self.workflow or target.workflow
        if workflow is None:
            raise ValueError(f"node {self.id!r} is in no workflow: add it with Workflow.add before linking it")
        for node in (self, target):
            if node.workflow is None:
                workflow.add(node)
            elif node.workflow is not workflow:
                raise ValueError(f"nodes {self.id!r} and {target.id!r} are in different workflows")
        workflow.edges.append({"source": self.id, "target": target.id, **extra})

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.config:
            data["config"] = self.config
        return {**data, **self.settings}


class Workflow:
    """A workflow being built; ``output`` may be set at any time (default: the sink nodes' outputs)."""

    def __init__(self, name: str, *, description: str | None = None, timeout_seconds: int | None = None,
                 max_steps: int | None = None, input_schema: Mapping[str, JSON] | None = None,
                 output: JSON = None) -> None:
        self.name = name
        self.top = given(description=description, timeout_seconds=timeout_seconds, max_steps=max_steps,
                         input_schema=input_schema)
        self.output = output
        self.nodes: list[Node] = []
        self.edges: list[dict[str, Any]] = []

    def add(self, node: N) -> N:
        """Add ``node`` (in the order the definition lists it); returns it."""
        if node.workflow is not None and node.workflow is not self:
            raise ValueError(f"node {node.id!r} is already in workflow {node.workflow.name!r}")
        if node.workflow is None:
            node.workflow = self
            self.nodes.append(node)
        return node

    def to_dict(self) -> dict[str, Any]:
        """The definition as a document (what ``POST /workflows`` takes as ``definition``)."""
        data: dict[str, Any] = {"name": self.name, **self.top, "nodes": [node.to_dict() for node in self.nodes]}
        if self.edges:
            data["edges"] = [dict(edge) for edge in self.edges]
        if self.output is not None:
            data["output"] = plain(self.output)
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def validate(self) -> WorkflowDefinition:
        """The definition as the API would parse it; ``DefinitionError`` lists every problem,
        each naming its node (``node 'fetch' config.url: Not a valid URL.``) or edge."""
        return parse_definition(self.to_dict())


# ``workflow("name", ...)`` and ``node("id", "type", {...})`` read as the other constructors do.
workflow = Workflow
node = Node
