"""Readiness and skipping (DESIGN section 2), as pure functions over step states.

A node is decided once every upstream node is terminal: it is queued when at least one
incoming edge was taken, otherwise skipped. ``Plan`` indexes a definition once (edges by
node, topological positions, what conditions read), so that deciding after a step finished
costs the edges of that step, not the size of the workflow.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from orchestrator.definitions import EdgeSpec, WorkflowDefinition
from orchestrator.states import EdgeOutcome, OnError, StepStatus as S, STEP_TERMINAL
from orchestrator.templating import TemplateError, evaluate_condition, referenced_names


class ConditionFailed(Exception):
    """An edge condition could not be evaluated; the execution fails with this message."""


@dataclass(frozen=True)
class StepState:
    status: S
    output: Any = None


class Plan:
    """What the engine needs to know of a definition on every hop, computed once per version."""

    def __init__(self, definition: WorkflowDefinition):
        self.definition = definition
        self.incoming: dict[str, list[EdgeSpec]] = {n: [] for n in definition.nodes}
        self.outgoing: dict[str, list[EdgeSpec]] = {n: [] for n in definition.nodes}
        for edge in definition.edges:
            self.incoming[edge.target].append(edge)
            self.outgoing[edge.source].append(edge)
        self.position = {n: i for i, n in enumerate(definition.topological_order())}
        self.roots = tuple(n for n in definition.nodes if not self.incoming[n])
        self.condition_names = referenced_names(None, (e.condition for e in definition.edges if e.condition))
        self.has_conditions = any(e.condition for e in definition.edges)
        self.conditions_read_nodes = "nodes" in self.condition_names
        self.output_names = referenced_names(definition.output)

    def successors_of(self, node_ids: Iterable[str]) -> set[str]:
        return {e.target for n in node_ids for e in self.outgoing[n]}

    def sources_of(self, node_ids: Iterable[str]) -> set[str]:
        return {e.source for n in node_ids for e in self.incoming[n]}


def template_variables(
    states: Mapping[str, StepState], execution: Mapping[str, Any], input: Any, context: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "input": input,
        "nodes": {node_id: {"status": st.status.value, "output": st.output} for node_id, st in states.items()},
        "execution": dict(execution),
        "context": dict(context),
    }


def edge_taken(definition: WorkflowDefinition, edge: EdgeSpec, source: StepState, variables: dict[str, Any]) -> bool:
    policy = OnError(definition.nodes[edge.source].on_error)
    if source.status is S.COMPLETED:
        wanted = EdgeOutcome.SUCCESS
    elif source.status is S.FAILED and policy is OnError.CONTINUE:
        wanted = EdgeOutcome.SUCCESS
    elif source.status is S.FAILED and policy is OnError.FAIL_BRANCH:
        wanted = EdgeOutcome.ERROR
    else:
        return False
    if EdgeOutcome(edge.on) is not wanted:
        return False
    if not edge.condition:
        return True
    try:
        return evaluate_condition(edge.condition, variables)
    except TemplateError as exc:
        raise ConditionFailed(f"edge {edge.source} -> {edge.target}: condition failed: {exc}") from None


def decide(plan: Plan, states: dict[str, StepState], variables: dict[str, Any],
           candidates: Iterable[str]) -> dict[str, S]:
    """The pending candidates that can now be decided, each mapped to QUEUED or SKIPPED, in
    topological order (a candidate sees an earlier candidate's decision). ``states`` holds the
    candidates and their sources."""
    states = dict(states)
    decisions: dict[str, S] = {}
    for node_id in sorted(candidates, key=plan.position.__getitem__):
        incoming = plan.incoming[node_id]
        if node_id not in states or states[node_id].status is not S.PENDING or not incoming:
            continue  # roots are queued when the execution starts
        if any(states[e.source].status not in STEP_TERMINAL for e in incoming):
            continue
        taken = any(edge_taken(plan.definition, e, states[e.source], variables) for e in incoming)
        decisions[node_id] = S.QUEUED if taken else S.SKIPPED
        states[node_id] = StepState(decisions[node_id])
        variables["nodes"][node_id] = {"status": decisions[node_id].value, "output": None}
    return decisions


def sink_outputs(definition: WorkflowDefinition, states: Mapping[str, StepState]) -> dict[str, Any]:
    """The default execution output: completed sink nodes' outputs by node id."""
    return {node_id: states[node_id].output for node_id in definition.sinks() if states[node_id].status is S.COMPLETED}
