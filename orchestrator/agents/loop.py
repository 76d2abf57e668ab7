"""An agent's loop as durable turns. Each turn makes at most one call to the outside world (the
model, or one tool) and ends; its state (the conversation, the calls still to make, usage) is
the checkpoint of the next. A killed worker therefore repeats at most the call in flight.

A turn: tool calls the model asked for are made one per turn (a tool that requires approval
first waits for a human decision; a workflow tool parks the step until its child execution
ends, and the next turn hands the child's output to the model); otherwise the model is asked
(one iteration); an answer without tool calls is final; ``max_iterations`` model calls end
the loop.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from orchestrator.agents import context as shared
from orchestrator.agents.catalog import agent_by_name
from orchestrator.agents.tools import ToolSpec, call_http, check_arguments, child_run, is_workflow, load_tool
from orchestrator.db import Agent
from orchestrator.db.types import utcnow
from orchestrator.llm.clients import SCHEMA_INSTRUCTION
from orchestrator.llm.completion import REPAIR_PROMPT, Completion, parse_json, schema_errors
from orchestrator.llm.redaction import Redactor
from orchestrator.nodes.base import ApprovalRequest, CallRecord, ChildRun, Continue, NodeContext, NodeError, Suspend
from orchestrator.states import AgentStatus

DEFAULT_APPROVAL_SECONDS = 86_400


@dataclass(frozen=True)
class AgentSpec:
    """What an agent runs with: a stored agent's fields or an inline ``{model, instructions, tools}``."""

    name: str
    model: str
    instructions: str = ""
    tools: tuple[str, ...] = ()
    output_schema: dict[str, Any] | None = None
    max_iterations: int = 10
    params: dict[str, Any] = field(default_factory=dict)


def resolve_agent(ctx: NodeContext, ref: Any, label: str) -> AgentSpec:
    """``ref``: the owner's agent's name, or an inline dict (``label`` names it)."""
    if isinstance(ref, dict):
        return AgentSpec(label, ref["model"], ref.get("instructions") or "", tuple(ref.get("tools") or ()),
                         ref.get("output_schema"), ref.get("max_iterations", 10), ref.get("params") or {})
    with ctx.services.sessions() as session:
        agent: Agent | None = agent_by_name(session, uuid.UUID(str(ctx.owner_id)), ref)
        if agent is None:
            raise NodeError(f"no agent named {ref!r}", retryable=False)
        if agent.status != AgentStatus.ACTIVE:
            raise NodeError(f"agent {ref!r} is {agent.status}", retryable=False)
        if not agent.model:
            raise NodeError(f"agent {ref!r} has no model", retryable=False)
        instructions = "\n\n".join(p for p in (agent.instructions, agent.goal and f"Goal: {agent.goal}") if p)
        return AgentSpec(agent.name, agent.model, instructions, tuple(agent.tools or ()), agent.output_schema,
                         agent.max_iterations)


@dataclass(frozen=True)
class Outcome:
    """How a turn ended: ``continue`` (run again now), ``park`` (at ``not_before``), ``approval``
    (wait for a human), ``child`` (wait for a child execution), ``done`` (``output``)."""

    kind: str
    output: Any = None
    not_before: datetime | None = None
    approval: ApprovalRequest | None = None
    child: ChildRun | None = None
    message: str = ""


def node_result(outcome: Outcome, state: Any) -> Any:
    """What a node's ``run`` returns for a turn's outcome, ``state`` being its checkpoint."""
    if outcome.kind == "done":
        return outcome.output
    if outcome.kind == "approval":
        return Suspend(approval=outcome.approval, state=state)
    if outcome.kind == "child":
        return Suspend(child=outcome.child, state=state)
    return Continue(state, not_before=outcome.not_before, message=outcome.message)


def first_state(spec: AgentSpec, prompt: str) -> dict[str, Any]:
    system = spec.instructions
    if spec.output_schema is not None:
        system = f"{system}\n\n{SCHEMA_INSTRUCTION}\n{json.dumps(spec.output_schema)}".strip()
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    return {"messages": messages, "fallback_index": 0, "repairs": 0, "iterations": 0, "pending": [],
            "tool_calls": [], "last_text": "",
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost": "0", "cost_known": True}}


def usage_of(state: dict[str, Any]) -> dict[str, Any]:
    usage = state["usage"]
    cost = float(Decimal(usage["cost"])) if usage["cost_known"] else None
    return {"prompt_tokens": usage["prompt_tokens"], "completion_tokens": usage["completion_tokens"],
            "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"], "cost": cost}


class AgentLoop:
    """One agent's turns. ``label`` names it in events (the node id, or ``<node>:<member>``);
    ``read``/``write``: the shared-context namespaces its built-in tools may use."""

    def __init__(self, ctx: NodeContext, spec: AgentSpec, label: str, *, max_iterations: int | None = None,
                 read: list[str] | None = None, write: str | None = None, approval: dict[str, Any] | None = None):
        self.ctx, self.spec, self.label = ctx, spec, label
        self.max_iterations = max_iterations or spec.max_iterations
        self.read, self.write = list(read or []), write
        self.approval = approval or {}

    def turn(self, state: dict[str, Any]) -> Outcome:
        if state["pending"]:
            return self._tool_turn(state)
        if state["iterations"] >= self.max_iterations:
            return Outcome("done", self._output(state, state["last_text"], None, "max_iterations"))
        return self._model_turn(state)

    # -- the model -----------------------------------------------------------------------------

    def _model_turn(self, state: dict[str, Any]) -> Outcome:
        functions = [load_tool(self.ctx, name).as_function() for name in self.spec.tools]
        functions += shared.functions(self.read, self.write)
        completion = Completion(self.ctx, {"model": self.spec.model, "params": self.spec.params}, tuple(functions))
        asked = completion.ask(state)
        if isinstance(asked, Continue):
            return Outcome("park", not_before=asked.not_before, message=asked.message)
        _, reply = asked
        state["iterations"] += 1
        state["last_text"] = reply.text
        if reply.tool_calls:
            state["messages"].append({"role": "assistant", "content": reply.text or None, "tool_calls": [
                {"id": c["id"] or f"call_{i}", "type": "function",
                 "function": {"name": c["name"], "arguments": c["arguments"] or "{}"}}
                for i, c in enumerate(reply.tool_calls)]})
            state["pending"] = [{"id": c["id"] or f"call_{i}", "name": c["name"], "arguments": c["arguments"] or "{}"}
                                for i, c in enumerate(reply.tool_calls)]
            return Outcome("continue", message=f"{self.label} asked for {', '.join(c['name'] for c in reply.tool_calls)}")
        if self.spec.output_schema is None:
            return Outcome("done", self._output(state, reply.text, None, "final"))
        try:
            structured = parse_json(reply.text)
            errors = schema_errors(structured, self.spec.output_schema)
        except ValueError as exc:
            structured, errors = None, [f"(root): the answer is not JSON ({exc})"]
        if not errors:
            return Outcome("done", self._output(state, reply.text, structured, "final"))
        if state["repairs"] >= 1 or state["iterations"] >= self.max_iterations:
            raise NodeError(completion.redact.text(f"the final answer of agent {self.spec.name!r} is not valid "
                                                   f"against output_schema: {'; '.join(errors)}"))
        state["repairs"] += 1
        state["messages"] += [{"role": "assistant", "content": reply.text},
                              {"role": "user", "content": REPAIR_PROMPT.format(errors="; ".join(errors))}]
        return Outcome("continue", message=f"repairing the answer of {self.label}")

    def _output(self, state: dict[str, Any], text: str, structured: Any, stop_reason: str) -> dict[str, Any]:
        return {"text": text, "structured": structured, "stop_reason": stop_reason,
                "iterations": state["iterations"], "tool_calls": state["tool_calls"], "usage": usage_of(state)}

    # -- tools ---------------------------------------------------------------------------------

    def _tool_turn(self, state: dict[str, Any]) -> Outcome:
        call = state["pending"][0]
        name = call["name"]
        try:
            arguments = json.loads(call["arguments"])
        except ValueError:
            arguments = None
        decision = state.pop("approval", None)
        child = state.pop("child", None)
        if child is not None:           # the workflow tool's child execution ended
            return self._child_answered(state, call, arguments, child)
        if not isinstance(arguments, dict):
            return self._answered(state, call, {}, "error", {"error": "the arguments are not a JSON object"})
        if name in (shared.READ, shared.WRITE):
            try:
                result, status = shared.run(self.ctx, name, arguments, self.read, self.write), "ok"
            except ValueError as exc:
                result, status = {"error": str(exc)}, "error"
            self._record(name, arguments, status, result, kind="builtin")
            return self._answered(state, call, arguments, status, result)
        if name not in self.spec.tools:
            return self._answered(state, call, arguments, "error", {"error": f"no tool named {name!r} here"})
        spec = load_tool(self.ctx, name)
        try:
            check_arguments(spec, arguments)
        except NodeError as exc:
            return self._answered(state, call, arguments, "error", {"error": str(exc)})
        if spec.requires_approval:
            if decision is None:
                return self._ask_approval(state, spec, arguments)
            if not decision.get("approved"):
                return self._answered(state, call, arguments, decision.get("status", "rejected"),
                                      {"error": f"a person did not allow this call ({decision.get('status')})"})
        if is_workflow(spec):
            return Outcome("child", child=child_run(spec, arguments),
                           message=f"{self.label} runs workflow tool {name} as a child execution")
        try:
            result = call_http(self.ctx, spec, arguments)
        except NodeError as exc:
            return self._answered(state, call, arguments, "error", {"error": str(exc)})
        return self._answered(state, call, arguments, "ok", result)

    def _child_answered(self, state: dict[str, Any], call: dict[str, Any], arguments: dict[str, Any],
                        child: dict[str, Any]) -> Outcome:
        """The model gets a workflow tool's child output, or why the child did not complete."""
        if child["status"] == "completed":
            status, result = "ok", child["output"]
        else:
            status, result = "error", {"error": f"workflow tool {call['name']!r}: child execution "
                                                f"{child['execution_id']} {child['status']}: "
                                                f"{child.get('error') or 'no error'}"}
        self._record(call["name"], arguments, status, result, kind="workflow", execution_id=child["execution_id"])
        return self._answered(state, call, arguments, status, result)

    def _record(self, name: str, arguments: dict[str, Any], status: str, result: Any, **meta: Any) -> None:
        """A tool call answered here (not over HTTP, which ``call_http`` records), redacted."""
        redact = Redactor()
        self.ctx.record_call(CallRecord(kind="tool", target=name, status=status,
                                        request={"arguments": redact(arguments)}, response=redact(result),
                                        error=result["error"] if status == "error" else None,
                                        meta={**meta, "turn": self.ctx.turn}))

    def _ask_approval(self, state: dict[str, Any], spec: ToolSpec, arguments: dict[str, Any]) -> Outcome:
        seconds = self.approval.get("timeout_seconds", DEFAULT_APPROVAL_SECONDS)
        details = {"agent": self.label, "tool": spec.name, "arguments": arguments}
        self.ctx.emit("tool_call", f"{self.label} waits for approval to call {spec.name}",
                      Redactor()({**details, "status": "awaiting_approval"}))
        return Outcome("approval", approval=ApprovalRequest(
            expires_at=utcnow() + timedelta(seconds=seconds), approver_email=self.approval.get("approver_email"),
            details=details), message=f"{self.label} waits for approval to call {spec.name}")

    def _answered(self, state: dict[str, Any], call: dict[str, Any], arguments: dict[str, Any], status: str,
                  result: Any) -> Outcome:
        state["pending"].pop(0)
        state["messages"].append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})
        state["tool_calls"].append({"name": call["name"], "arguments": arguments, "status": status})
        redact = Redactor()
        self.ctx.emit("tool_call", f"{self.label} called {call['name']} ({status})",
                      {"agent": self.label, "tool": call["name"], "arguments": redact(arguments), "status": status})
        return Outcome("continue", message=f"{self.label} called {call['name']}")
