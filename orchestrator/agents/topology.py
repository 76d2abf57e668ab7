"""A team's ``topology_config``: its shape, checked the same way by the API and by the
``team`` node (for an inline one). Names are resolved by the caller, which knows the owner."""
from __future__ import annotations

from typing import Any

from orchestrator.states import Topology

MEMBER_NAME_MAX = 64


def topology_errors(config: Any) -> list[str]:
    """What is wrong with the shape of ``config``, each naming the culprit; [] when fine."""
    if not isinstance(config, dict):
        return ["topology_config must be an object"]
    errors = []
    kind = config.get("type")
    if kind not in Topology.values():
        errors.append(f"type must be one of {', '.join(Topology.values())}, not {kind!r}")
    members = config.get("members", [])
    if not isinstance(members, list):
        return errors + ["members must be a list"]
    if not members and not config.get("squad_id"):
        errors.append("the team has no members: give members or a squad_id")
    seen: set[str] = set()
    for index, member in enumerate(members):
        name = member.get("name") if isinstance(member, dict) else None
        if not isinstance(name, str) or not 0 < len(name) <= MEMBER_NAME_MAX or ":" in name:
            errors.append(f"member {index}: name must be 1-{MEMBER_NAME_MAX} characters without ':'")
            continue
        if name in seen:
            errors.append(f"member {name!r} is named twice")
        seen.add(name)
        agent = member.get("agent")
        if isinstance(agent, dict):
            if not isinstance(agent.get("model"), str) or "/" not in agent["model"]:
                errors.append(f"member {name!r}: an inline agent needs a model <provider name>/<model_id>")
        elif not isinstance(agent, str) or not agent:
            errors.append(f"member {name!r}: agent must be an agent's name or an inline {{model, instructions, tools}}")
    if kind == Topology.SUPERVISOR and not config.get("squad_id"):     # else the squad's leader supervises
        supervisor = config.get("supervisor")
        if not isinstance(supervisor, dict) or not isinstance(supervisor.get("model"), str) \
                or "/" not in supervisor["model"]:
            errors.append("a supervisor team needs supervisor.model (<provider name>/<model_id>)")
    terminate_on = config.get("terminate_on", "TERMINATE")
    if not isinstance(terminate_on, str) or not terminate_on:
        errors.append("terminate_on must be a non-empty string")
    return errors


def named_agents(config: dict[str, Any]) -> dict[str, str]:
    """{member name: agent name} of the members that name a stored agent."""
    return {m["name"]: m["agent"] for m in config.get("members", []) if isinstance(m.get("agent"), str)}
