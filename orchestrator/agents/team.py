"""A team's run as durable turns: members are agents (``AgentLoop``), each of their calls one
turn; a supervisor's decision is one turn too. The topology picks who works next:

- ``sequential``: each member once, in order, each given the previous result;
- ``round_robin``: members in turn until an answer holds ``terminate_on`` or ``max_iterations``;
- ``supervisor``: the supervisor model answers ``{next: <member>|FINISH, instruction}``; an
  unknown member is re-asked once with the error, then the team fails.

Every hand-over is an ``a2a_messages`` row (``<node>:<member>``; the coordinator is
``<node>:team`` or ``<node>:supervisor``): ``task`` to a member, ``result`` from it, ``final`` to
``<node>:output``; and an event: ``agent_message`` for a result, ``supervisor_decision`` for a
decision (the members' tools emit ``tool_call``). ``timeout_seconds`` bounds the whole team.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from orchestrator.agents.catalog import LEADER, squad_roster
from orchestrator.agents.loop import AgentLoop, AgentSpec, Outcome, first_state, resolve_agent, usage_of
from orchestrator.agents.topology import topology_errors
from orchestrator.db import Team
from orchestrator.db.types import utcnow
from orchestrator.llm.completion import Completion, parse_json
from orchestrator.nodes.base import Continue, NodeContext, NodeError
from orchestrator.states import TeamStatus, Topology

FINISH = "FINISH"
SUPERVISOR_PROMPT = ("You lead a team. Members: {members}. Decide who works next and what they should do, or "
                     "answer FINISH when the task is done. Answer with JSON: "
                     '{{"next": "<member>" or "FINISH", "instruction": "..."}}.')
REPAIR = "{error} Answer again with JSON: next must be one of {choices}."


@dataclass(frozen=True)
class TeamPlan:
    """A resolved team: its topology, members by name (in order), supervisor and limits."""

    name: str
    type: str
    members: dict[str, AgentSpec]
    supervisor: AgentSpec | None
    terminate_on: str
    timeout_seconds: int
    max_iterations: int


def resolve_team(ctx: NodeContext, ref: Any, timeout_seconds: int | None, max_iterations: int | None) -> TeamPlan:
    """``ref``: the owner's team's name or an inline ``topology_config``."""
    if isinstance(ref, str):
        with ctx.services.sessions() as session:
            team = session.scalar(select(Team).where(Team.owner_id == uuid.UUID(str(ctx.owner_id)), Team.name == ref))
            if team is None:
                raise NodeError(f"no team named {ref!r}", retryable=False)
            if team.status != TeamStatus.ACTIVE:
                raise NodeError(f"team {ref!r} is {team.status}", retryable=False)
            name, config = team.name, team.topology_config
            timeout_seconds = timeout_seconds or team.timeout_seconds
            max_iterations = max_iterations or team.max_iterations
    else:
        name, config = ctx.node_id, ref
        errors = topology_errors(config)
        if errors:
            raise NodeError(f"invalid team: {'; '.join(errors)}", retryable=False)
    members = {m["name"]: resolve_agent(ctx, m["agent"], f"{ctx.node_id}:{m['name']}")
               for m in config.get("members", [])}
    supervisor = None
    if config.get("supervisor"):
        supervisor = AgentSpec("supervisor", config["supervisor"]["model"], config["supervisor"].get("instructions", ""))
    if config.get("squad_id"):
        with ctx.services.sessions() as session:
            roster = squad_roster(session, uuid.UUID(str(ctx.owner_id)), config["squad_id"])
        if not roster:
            raise NodeError(f"squad {config['squad_id']} has no members (or is not yours)", retryable=False)
        for role, agent in roster:
            spec = resolve_agent(ctx, agent.name, f"{ctx.node_id}:{agent.name}")
            if role == LEADER and config["type"] == Topology.SUPERVISOR and supervisor is None:
                supervisor = spec
            else:
                members.setdefault(agent.name, spec)
    if config["type"] == Topology.SUPERVISOR and supervisor is None:
        raise NodeError(f"team {name!r} has no supervisor", retryable=False)
    return TeamPlan(name, config["type"], members, supervisor, config.get("terminate_on", "TERMINATE"),
                    timeout_seconds or 300, max_iterations or 50)


class TeamRun:
    def __init__(self, ctx: NodeContext, plan: TeamPlan, task: str):
        self.ctx, self.plan, self.task = ctx, plan, task
        self.coordinator = "supervisor" if plan.type == Topology.SUPERVISOR else "team"

    def first_state(self) -> dict[str, Any]:
        return {"started_at": utcnow().isoformat(), "iterations": 0, "position": 0, "current": None,
                "history": [], "members": {}, "repairs": 0,
                "supervisor": {"fallback_index": 0, "messages": [], "usage": _zero()}}

    def _at(self, who: str) -> str:
        return f"{self.ctx.node_id}:{who}"

    # -- a turn --------------------------------------------------------------------------------

    def turn(self, state: dict[str, Any]) -> Outcome:
        elapsed = (utcnow() - datetime.fromisoformat(state["started_at"])).total_seconds()
        if elapsed > self.plan.timeout_seconds:
            raise NodeError(f"team {self.plan.name!r} timed out after {self.plan.timeout_seconds} s "
                            f"({state['iterations']} member turn(s) done)", retryable=False)
        for taken_up in ("approval", "child"):       # what a member's turn waited for
            if taken_up in state and state["current"]:
                state["current"]["agent"][taken_up] = state.pop(taken_up)
        if state["current"] is None:
            decided = self._decide(state)
            if decided is not None:
                return decided
        return self._member_turn(state)

    def _member_turn(self, state: dict[str, Any]) -> Outcome:
        current = state["current"]
        member = current["member"]
        loop = AgentLoop(self.ctx, self.plan.members[member], self._at(member))
        outcome = loop.turn(current["agent"])
        if outcome.kind != "done":
            return outcome
        text = outcome.output["text"]
        state["members"][member] = _add(state["members"].get(member), outcome.output["usage"])
        state["history"].append({"member": member, "text": text})
        state["iterations"] += 1
        state["current"] = None
        self.ctx.send_message(self._at(self.coordinator), "result", {"text": text}, from_node=self._at(member))
        self.ctx.emit("agent_message", f"{member} answered", {"team": self.plan.name, "member": member, "text": text})
        return Outcome("continue", message=f"{member} answered")

    def _start(self, state: dict[str, Any], member: str, task: str) -> None:
        spec = self.plan.members[member]
        if self.plan.type == Topology.ROUND_ROBIN:
            spec = replace(spec, instructions=f"{spec.instructions}\n\nSay {self.plan.terminate_on} when the "
                                              f"task is done.".strip())
        state["current"] = {"member": member, "agent": first_state(spec, task)}
        self.ctx.send_message(self._at(member), "task", {"text": task}, from_node=self._at(self.coordinator))

    def _finish(self, state: dict[str, Any], final: str, stop_reason: str) -> Outcome:
        self.ctx.send_message(self._at("output"), "final", {"text": final}, from_node=self._at(self.coordinator))
        members = {name: {"usage": usage_of({"usage": usage})} for name, usage in state["members"].items()}
        total = _zero()
        for usage in [*state["members"].values(), state["supervisor"]["usage"]]:
            total = _add(total, usage_of({"usage": usage}))
        return Outcome("done", {"final": final, "stop_reason": stop_reason, "iterations": state["iterations"],
                                "members": members, "usage": usage_of({"usage": total})})

    def _last(self, state: dict[str, Any]) -> str:
        return state["history"][-1]["text"] if state["history"] else ""

    def _transcript(self, state: dict[str, Any]) -> str:
        return "\n".join(f"{h['member']}: {h['text']}" for h in state["history"]) or "(nothing yet)"

    # -- who is next ---------------------------------------------------------------------------

    def _decide(self, state: dict[str, Any]) -> Outcome | None:
        """Start the next member (None: run its first turn now) or end the team."""
        names = list(self.plan.members)
        kind = self.plan.type
        if kind == Topology.SEQUENTIAL:
            if state["position"] >= len(names):
                return self._finish(state, self._last(state), "final")
            member = names[state["position"]]
            state["position"] += 1
            previous = state["history"][-1] if state["history"] else None
            task = self.task if previous is None else \
                f"{self.task}\n\nPrevious result ({previous['member']}):\n{previous['text']}"
            self._start(state, member, task)
            return None
        if kind == Topology.ROUND_ROBIN:
            if state["history"] and self.plan.terminate_on in self._last(state):
                return self._finish(state, self._last(state).replace(self.plan.terminate_on, "").strip(),
                                    "terminate_on")
            if state["iterations"] >= self.plan.max_iterations:
                return self._finish(state, self._last(state), "max_iterations")
            member = names[state["iterations"] % len(names)]
            self._start(state, member, f"{self.task}\n\nConversation so far:\n{self._transcript(state)}")
            return None
        if state["iterations"] >= self.plan.max_iterations:
            return self._finish(state, self._last(state), "max_iterations")
        return self._supervise(state, names)

    def _supervise(self, state: dict[str, Any], names: list[str]) -> Outcome | None:
        """One supervisor call (its own turn): a decision, or a re-ask after an unknown member."""
        supervisor, sup = self.plan.supervisor, state["supervisor"]
        choices = [*names, FINISH]
        if not state["repairs"]:
            system = "\n\n".join(p for p in (supervisor.instructions,
                                             SUPERVISOR_PROMPT.format(members=", ".join(names))) if p)
            sup["messages"] = [{"role": "system", "content": system},
                               {"role": "user", "content": f"Task: {self.task}\n\nSo far:\n{self._transcript(state)}"}]
        schema = {"type": "object", "required": ["next", "instruction"],
                  "properties": {"next": {"type": "string", "enum": choices}, "instruction": {"type": "string"}}}
        completion = Completion(self.ctx, {"model": supervisor.model, "params": supervisor.params,
                                           "output_schema": schema})
        asked = completion.ask(sup)
        if isinstance(asked, Continue):
            return Outcome("park", not_before=asked.not_before, message=asked.message)
        reply = asked[1]
        try:
            decision = parse_json(reply.text)
            chosen, instruction = decision["next"], str(decision.get("instruction") or "")
        except (ValueError, TypeError, KeyError):
            chosen, instruction = None, ""
        self.ctx.emit("supervisor_decision", f"supervisor chose {chosen}",
                      {"team": self.plan.name, "next": chosen, "instruction": instruction,
                       "valid": chosen in choices})
        if chosen not in choices:
            error = f"{json.dumps(chosen)} is not a member." if chosen is not None else "That is not the JSON asked for."
            if state["repairs"] >= 1:
                raise NodeError(f"the supervisor of team {self.plan.name!r} named {chosen!r}, not one of "
                                f"{', '.join(choices)}, after a repair attempt", retryable=False)
            state["repairs"] += 1
            sup["messages"] += [{"role": "assistant", "content": reply.text},
                                {"role": "user", "content": REPAIR.format(error=error, choices=", ".join(choices))}]
            return Outcome("continue", message="re-asking the supervisor")
        state["repairs"] = 0
        if chosen == FINISH:
            return self._finish(state, self._last(state) or instruction, "final")
        self._start(state, chosen, f"{instruction}\n\nTask: {self.task}".strip())
        return Outcome("continue", message=f"supervisor chose {chosen}")


def _zero() -> dict[str, Any]:
    return {"prompt_tokens": 0, "completion_tokens": 0, "cost": "0", "cost_known": True}


def _add(total: dict[str, Any] | None, usage: dict[str, Any]) -> dict[str, Any]:
    """A running total (checkpoint form) plus an output's ``usage``."""
    total = dict(total or _zero())
    total["prompt_tokens"] += usage["prompt_tokens"]
    total["completion_tokens"] += usage["completion_tokens"]
    if usage["cost"] is None:
        total["cost_known"] = False
    else:
        total["cost"] = str(Decimal(total["cost"]) + Decimal(str(usage["cost"])))
    return total
