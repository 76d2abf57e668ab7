"""A parsed, valid workflow definition: frozen dataclasses that the engine reads."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from orchestrator.definitions.graph import topological_sort
from orchestrator.states import EdgeOutcome, OnError

# The least max_steps a definition that leaves it out gets (validation.default_max_steps).
DEFAULT_MAX_STEPS = 500


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 1
    backoff_seconds: float = 1.0
    backoff_factor: float = 2.0
    max_backoff_seconds: float = 60.0

    def backoff_for(self, attempt: int) -> float:
        """Seconds to wait after attempt ``attempt`` (1-based) failed, before the next one."""
        if attempt < 1:
            raise ValueError(f"attempts count from 1, got {attempt}")
        try:
            delay = self.backoff_seconds * self.backoff_factor ** (attempt - 1)
        except OverflowError:
            return self.max_backoff_seconds
        return min(self.max_backoff_seconds, delay)


@dataclass(frozen=True)
class NodeSpec:
    id: str
    type: str
    name: str
    config: dict[str, Any] = field(default_factory=dict)  # as written: templates not rendered
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_seconds: float = 300.0  # per attempt
    on_error: OnError = OnError.FAIL
    default_output: Any = field(default_factory=dict)  # the output under on_error: default
    position: dict[str, float] | None = None  # {x, y} on the editor's canvas
    # {namespace, value: <template that sees output>, mode: merge|replace}, applied on completion
    context_write: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "config": self.config,
            "retry": asdict(self.retry),
            "timeout_seconds": self.timeout_seconds,
            "on_error": self.on_error.value,
            "default_output": self.default_output,
        }
        if self.position is not None:
            data["position"] = self.position
        if self.context_write is not None:
            data["context_write"] = self.context_write
        return data


@dataclass(frozen=True)
class EdgeSpec:
    source: str
    target: str
    condition: str | None = None
    on: EdgeOutcome = EdgeOutcome.SUCCESS  # error: taken only when source fails under fail_branch

    def to_dict(self) -> dict[str, Any]:
        data = {"source": self.source, "target": self.target, "on": self.on.value}
        if self.condition is not None:
            data["condition"] = self.condition
        return data


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    nodes: dict[str, NodeSpec]  # by id, in definition order
    edges: tuple[EdgeSpec, ...] = ()
    description: str | None = None
    timeout_seconds: int | None = None  # whole execution; None: no limit
    max_steps: int = DEFAULT_MAX_STEPS
    input_schema: dict[str, Any] | None = None
    output: Any = None  # JSON with templates; None: the outputs of the sink nodes by id

    def incoming(self, node_id: str) -> tuple[EdgeSpec, ...]:
        return tuple(edge for edge in self.edges if edge.target == node_id)

    def outgoing(self, node_id: str) -> tuple[EdgeSpec, ...]:
        return tuple(edge for edge in self.edges if edge.source == node_id)

    def roots(self) -> tuple[str, ...]:
        """Ids of the nodes without incoming edges, which start at once."""
        targets = {edge.target for edge in self.edges}
        return tuple(node_id for node_id in self.nodes if node_id not in targets)

    def sinks(self) -> tuple[str, ...]:
        """Ids of the nodes without outgoing edges, whose outputs are the default output."""
        sources = {edge.source for edge in self.edges}
        return tuple(node_id for node_id in self.nodes if node_id not in sources)

    def topological_order(self) -> tuple[str, ...]:
        order, _ = topological_sort(list(self.nodes), [(edge.source, edge.target) for edge in self.edges])
        return tuple(order)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data that ``parse_definition`` turns back into an equal definition."""
        data: dict[str, Any] = {"name": self.name}
        for key in ("description", "timeout_seconds", "input_schema"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        data["max_steps"] = self.max_steps
        data["nodes"] = [node.to_dict() for node in self.nodes.values()]
        data["edges"] = [edge.to_dict() for edge in self.edges]
        if self.output is not None:
            data["output"] = self.output
        return data
