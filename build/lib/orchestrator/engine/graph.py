"""Readiness and skipping (DESIGN section 2), as pure functions over step states.

A node is decided once every upstream node is terminal: it is queued when at least one
incoming edge was taken, otherwise skipped; decisions are made in topological order so a
skip propagates downstream in one pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from orchestrator.definitions import EdgeSpec, WorkflowDefinition
from orchestrator.states import EdgeOutcome, OnError, StepStatus as S, STEP_TERMINAL
from orchestrator.templating import TemplateError, evaluate_condition


class ConditionFailed(Exception):
    """An edge condition could not be evaluated; the execution fails with this message."""


@dataclass(frozen=True)
class StepState:
    status: S
    output: Any = None


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


def decide(
    definition: WorkflowDefinition, states: dict[str, StepState], variables: dict[str, Any]
) -> dict[str, S]:
    """Pending nodes that can now be decided, each mapped to QUEUED or SKIPPED."""
    states = dict(states)
    decisions: dict[str, S] = {}
    for node_id in definition.topological_order():
        if states[node_id].status is not S.PENDING:
            continue
        incoming = definition.incoming(node_id)
        if not incoming:
            continue  # roots are queued when the execution starts
        if any(states[e.source].status not in STEP_TERMINAL for e in incoming):
            continue
        taken = any(edge_taken(definition, e, states[e.source], variables) for e in incoming)
        decisions[node_id] = S.QUEUED if taken else S.SKIPPED
        states[node_id] = StepState(decisions[node_id])
        variables["nodes"][node_id] = {"status": decisions[node_id].value, "output": None}
    return decisions


def sink_outputs(definition: WorkflowDefinition, states: Mapping[str, StepState]) -> dict[str, Any]:
    """The default execution output: completed sink nodes' outputs by node id."""
    return {node_id: states[node_id].output for node_id in definition.sinks() if states[node_id].status is S.COMPLETED}
