"""What an owner may run, looked up by name: their agents, the tools they may call (theirs,
else a shared one), a squad's members. The API's services and the nodes both read through here."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.db import Agent, Squad, SquadMember, Tool
from orchestrator.states import ToolVisibility

# The squad role that supervises a supervisor team drawn from the squad.
LEADER = "leader"


def agent_by_name(session: Session, owner_id: uuid.UUID, name: str) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.owner_id == owner_id, Agent.name == name))


def usable_tool(session: Session, owner_id: uuid.UUID, name: str) -> Tool | None:
    """The tool ``name`` for the owner: their own, else a shared one (the oldest); any status."""
    return session.scalar(select(Tool).where(
        Tool.name == name, (Tool.owner_id == owner_id) | (Tool.visibility == ToolVisibility.SHARED.value))
        .order_by((Tool.owner_id == owner_id).desc(), Tool.created_at).limit(1))


def squad_roster(session: Session, owner_id: uuid.UUID, squad_id: Any) -> list[tuple[str, Agent]]:
    """(role, agent) of the owner's squad's members, in the order they joined."""
    return [(role, agent) for role, agent in session.execute(
        select(SquadMember.role, Agent).join(Agent, Agent.id == SquadMember.agent_id)
        .join(Squad, Squad.id == SquadMember.squad_id)
        .where(Squad.id == uuid.UUID(str(squad_id)), Squad.creator_id == owner_id)
        .order_by(SquadMember.added_at, SquadMember.id))]
