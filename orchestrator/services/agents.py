"""An owner's agents, tools, teams and squads. Tools run only once an admin approved them; a
team's ``topology_config`` is checked against the owner's agents and squads."""
from __future__ import annotations

import uuid
from typing import Any

import jsonschema
from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.agents.catalog import LEADER, agent_by_name, usable_tool
from orchestrator.agents.topology import named_agents, topology_errors
from orchestrator.db import Agent, Squad, SquadMember, Team, Tool, User
from orchestrator.db.types import utcnow
from orchestrator.llm.resolution import Unusable, resolve
from orchestrator.services.errors import Conflict, Forbidden, Invalid, NotFound, apply_changes, flush_unique, owned
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, list_owned, paginate
from orchestrator.states import AgentStatus, SquadStatus, ToolStatus, ToolVisibility


def check_json_schema(schema: Any, field: str) -> None:
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise Invalid(f"{field} is not a valid JSON Schema", {field: [exc.message]}) from None


# agents

def _check_agent_tools(session: Session, owner: User, names: list[str]) -> None:
    missing = [name for name in names if usable_tool(session, owner.id, name) is None]
    if missing:
        raise Invalid(f"unknown tool(s): {', '.join(missing)}",
                      {"tools": [f"no tool named {name!r} (yours or shared)" for name in missing]})


def create_agent(session: Session, owner: User, name: str, **fields: Any) -> Agent:
    _check_agent_tools(session, owner, fields.get("tools", []))
    if fields.get("output_schema") is not None:
        check_json_schema(fields["output_schema"], "output_schema")
    agent = Agent(id=uuid.uuid4(), owner_id=owner.id, name=name, **fields)
    session.add(agent)
    flush_unique(session, f"an agent named {name!r}")
    return agent


def list_agents(session: Session, owner: User, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT,
                status: str | None = None) -> Page[Agent]:
    return list_owned(session, Agent, owner, cursor, limit, status=status)


def problems(session: Session, owner: User, agent: Agent) -> list[str]:
    """What would stop ``agent`` from running now, as a run resolves it: its status, its model
    (the provider by name, active; the model, available; a default endpoint) and its tools."""
    if agent.status != AgentStatus.ACTIVE:
        return [f"agent is {agent.status}"]
    found = [] if agent.model else ["no model"]
    try:
        if agent.model:
            resolve(session, owner.id, agent.model)
    except Unusable as exc:
        found.append(str(exc))
    for name in agent.tools or ():
        tool = usable_tool(session, owner.id, name)
        if tool is None:
            found.append(f"no tool named {name!r}")
        elif tool.status != ToolStatus.APPROVED:
            found.append(f"tool {name!r} is {tool.status}, not approved")
    return found


def get_agent(session: Session, owner: User, agent_id: uuid.UUID) -> Agent:
    return owned(session, Agent, agent_id, owner, "agent")


def update_agent(session: Session, owner: User, agent_id: uuid.UUID, **changes: Any) -> Agent:
    agent = get_agent(session, owner, agent_id)
    if "tools" in changes:
        _check_agent_tools(session, owner, changes["tools"])
    if changes.get("output_schema") is not None:
        check_json_schema(changes["output_schema"], "output_schema")
    apply_changes(agent, changes)
    flush_unique(session, f"an agent named {agent.name!r}")
    return agent


def delete_agent(session: Session, owner: User, agent_id: uuid.UUID) -> None:
    session.delete(get_agent(session, owner, agent_id))
    session.flush()


# tools

def create_tool(session: Session, owner: User, name: str, config: dict[str, Any], input_schema: dict[str, Any],
                **fields: Any) -> Tool:
    """Pending until an admin approves it; an admin's own tool is approved at once."""
    check_json_schema(input_schema, "input_schema")
    tool = Tool(id=uuid.uuid4(), owner_id=owner.id, name=name, kind=config["kind"], config=config,
                input_schema=input_schema, **fields)
    if owner.is_admin:
        tool.status, tool.reviewed_by, tool.reviewed_at = ToolStatus.APPROVED.value, owner.id, utcnow()
    session.add(tool)
    flush_unique(session, f"a tool named {name!r}")
    return tool


def list_tools(session: Session, owner: User, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT,
               status: str | None = None, category: str | None = None) -> Page[Tool]:
    """The owner's tools and every shared one (an admin sees every tool, to review them)."""
    query = select(Tool)
    if not owner.is_admin:
        query = query.where((Tool.owner_id == owner.id) | (Tool.visibility == ToolVisibility.SHARED.value))
    for column, value in ((Tool.status, status), (Tool.category, category)):
        if value is not None:
            query = query.where(column == value)
    return paginate(session, query, Tool, cursor, limit)


def get_tool(session: Session, owner: User, tool_id: uuid.UUID) -> Tool:
    tool = session.get(Tool, tool_id)
    if tool is None or not (tool.owner_id == owner.id or tool.visibility == ToolVisibility.SHARED or owner.is_admin):
        raise NotFound(f"tool {tool_id} not found")
    return tool


def update_tool(session: Session, owner: User, tool_id: uuid.UUID, **changes: Any) -> Tool:
    """A changed tool goes back to ``pending`` (an admin's own stays approved)."""
    tool = owned(session, Tool, tool_id, owner, "tool")
    if "input_schema" in changes:
        check_json_schema(changes["input_schema"], "input_schema")
    if "config" in changes:
        changes["kind"] = changes["config"]["kind"]
    apply_changes(tool, changes)
    if {"config", "input_schema", "visibility"} & changes.keys() and not owner.is_admin:
        tool.status, tool.reviewed_by, tool.reviewed_at = ToolStatus.PENDING.value, None, None
    flush_unique(session, f"a tool named {tool.name!r}")
    return tool


def delete_tool(session: Session, owner: User, tool_id: uuid.UUID) -> None:
    session.delete(owned(session, Tool, tool_id, owner, "tool"))
    session.flush()


def review_tool(session: Session, admin: User, tool_id: uuid.UUID, approved: bool) -> Tool:
    if not admin.is_admin:
        raise Forbidden("only an admin approves or rejects tools")
    tool = session.get(Tool, tool_id)
    if tool is None:
        raise NotFound(f"tool {tool_id} not found")
    tool.status = (ToolStatus.APPROVED if approved else ToolStatus.REJECTED).value
    tool.reviewed_by, tool.reviewed_at = admin.id, utcnow()
    session.flush()
    return tool


# teams

def check_topology(session: Session, owner: User, config: Any) -> None:
    """422 naming each culprit: an unknown member agent or squad, an empty team, a supervisor
    without a model."""
    errors = topology_errors(config)
    if not errors:
        for member, agent in named_agents(config).items():
            if agent_by_name(session, owner.id, agent) is None:
                errors.append(f"member {member!r}: no agent named {agent!r}")
        if config.get("squad_id"):
            errors += _squad_errors(session, owner, config)
    if errors:
        raise Invalid(f"invalid topology_config: {'; '.join(errors)}", {"topology_config": errors})


def _squad_errors(session: Session, owner: User, config: dict[str, Any]) -> list[str]:
    try:
        squad = session.get(Squad, uuid.UUID(str(config["squad_id"])))
    except ValueError:
        squad = None
    if squad is None or squad.creator_id != owner.id:
        return [f"no squad {config['squad_id']}"]
    roles = [m.role for m in session.scalars(select(SquadMember).where(SquadMember.squad_id == squad.id))]
    if not roles:
        return [f"squad {squad.name!r} has no members"]
    if config.get("type") == "supervisor" and not config.get("supervisor") and LEADER not in roles:
        return [f"squad {squad.name!r} has no leader to supervise (add a member with role {LEADER!r} "
                f"or give supervisor.model)"]
    return []


def create_team(session: Session, owner: User, name: str, topology_config: dict[str, Any], **fields: Any) -> Team:
    check_topology(session, owner, topology_config)
    team = Team(id=uuid.uuid4(), owner_id=owner.id, name=name, topology_config=topology_config, **fields)
    session.add(team)
    flush_unique(session, f"a team named {name!r}")
    return team


def list_teams(session: Session, owner: User, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT,
               status: str | None = None) -> Page[Team]:
    return list_owned(session, Team, owner, cursor, limit, status=status)


def get_team(session: Session, owner: User, team_id: uuid.UUID) -> Team:
    return owned(session, Team, team_id, owner, "team")


def update_team(session: Session, owner: User, team_id: uuid.UUID, **changes: Any) -> Team:
    team = get_team(session, owner, team_id)
    if "topology_config" in changes:
        check_topology(session, owner, changes["topology_config"])
    apply_changes(team, changes)
    flush_unique(session, f"a team named {team.name!r}")
    return team


def delete_team(session: Session, owner: User, team_id: uuid.UUID) -> None:
    session.delete(get_team(session, owner, team_id))
    session.flush()


# squads

def _own_squad(session: Session, owner: User, squad_id: uuid.UUID) -> Squad:
    squad = session.get(Squad, squad_id)
    if squad is None or squad.creator_id != owner.id:
        raise NotFound(f"squad {squad_id} not found")
    return squad


def create_squad(session: Session, owner: User, name: str, **fields: Any) -> Squad:
    squad = Squad(id=uuid.uuid4(), creator_id=owner.id, name=name, **fields)
    session.add(squad)
    flush_unique(session, f"a squad named {name!r}")
    return squad


def list_squads(session: Session, owner: User, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT,
                status: str | None = None) -> Page[Squad]:
    query = select(Squad).where(Squad.creator_id == owner.id)
    if status is not None:
        query = query.where(Squad.status == status)
    return paginate(session, query, Squad, cursor, limit)


def get_squad(session: Session, owner: User, squad_id: uuid.UUID) -> Squad:
    return _own_squad(session, owner, squad_id)


def update_squad(session: Session, owner: User, squad_id: uuid.UUID, **changes: Any) -> Squad:
    squad = _own_squad(session, owner, squad_id)
    apply_changes(squad, changes)
    flush_unique(session, f"a squad named {squad.name!r}")
    return squad


def delete_squad(session: Session, owner: User, squad_id: uuid.UUID) -> None:
    session.delete(_own_squad(session, owner, squad_id))
    session.flush()


def publish_squad(session: Session, owner: User, squad_id: uuid.UUID) -> Squad:
    squad = _own_squad(session, owner, squad_id)
    if session.scalar(select(SquadMember.id).where(SquadMember.squad_id == squad.id).limit(1)) is None:
        raise Conflict(f"squad {squad.name!r} has no members to publish")
    squad.status, squad.published_at = SquadStatus.ACTIVE.value, utcnow()
    session.flush()
    return squad


def add_member(session: Session, owner: User, squad_id: uuid.UUID, agent_id: uuid.UUID, role: str) -> SquadMember:
    squad = _own_squad(session, owner, squad_id)
    agent = session.get(Agent, agent_id)
    if agent is None or agent.owner_id != owner.id:
        raise Invalid(f"no agent {agent_id}", {"agent_id": [f"no agent {agent_id}"]})
    if role == LEADER and session.scalar(select(SquadMember.id).where(
            SquadMember.squad_id == squad.id, SquadMember.role == LEADER).limit(1)) is not None:
        raise Conflict(f"squad {squad.name!r} has a leader already")
    member = SquadMember(id=uuid.uuid4(), squad_id=squad.id, agent_id=agent.id, role=role)
    session.add(member)
    flush_unique(session, f"agent {agent.name!r} in squad {squad.name!r}")
    return member


def list_members(session: Session, owner: User, squad_id: uuid.UUID) -> list[SquadMember]:
    squad = _own_squad(session, owner, squad_id)
    return list(session.scalars(select(SquadMember).where(SquadMember.squad_id == squad.id)
                                .order_by(SquadMember.added_at, SquadMember.id)))


def remove_member(session: Session, owner: User, squad_id: uuid.UUID, agent_id: uuid.UUID) -> None:
    squad = _own_squad(session, owner, squad_id)
    member = session.scalar(select(SquadMember).where(SquadMember.squad_id == squad.id,
                                                      SquadMember.agent_id == agent_id))
    if member is None:
        raise NotFound(f"agent {agent_id} is not in squad {squad.name!r}")
    session.delete(member)
    session.flush()
