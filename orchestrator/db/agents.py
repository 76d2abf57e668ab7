"""Agent layer (seeds 000, 001, 002): agents, squads, the LLM providers and their credentials."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, created_at, one_of, updated_at, uuid_pk
from orchestrator.db.types import JSONType, UTCDateTime
from orchestrator.states import AgentStatus, ProviderType, SquadStatus, TeamStatus, ToolKind, ToolStatus, ToolVisibility


class Agent(Base):
    """An owner's agent: seed 001's name, start and goal, plus what it needs to run (``model``
    as ``<provider name>/<model_id>``, ``instructions``, the names of its ``tools``)."""

    __tablename__ = "agents"
    __table_args__ = (
        one_of("status", AgentStatus),
        UniqueConstraint("owner_id", "name"),
        Index("ix_agents_status", "status"),
        Index("ix_agents_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    start: Mapped[str] = mapped_column(Text, nullable=False)
    goal: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=AgentStatus.ACTIVE.value)
    model: Mapped[str | None] = mapped_column(String(255))
    instructions: Mapped[str | None] = mapped_column(Text)
    tools: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    max_iterations: Mapped[int] = mapped_column(Integer, nullable=False, default=10)
    created_at: Mapped[datetime] = created_at()


class Tool(Base):
    """Something an agent (or a ``tool`` node) may call: an HTTP request or a workflow. Runs only
    once an admin approved it; a shared tool runs for every owner, a private one for its owner."""

    __tablename__ = "tools"
    __table_args__ = (
        one_of("kind", ToolKind),
        one_of("visibility", ToolVisibility),
        one_of("status", ToolStatus),
        UniqueConstraint("owner_id", "name"),
        Index("ix_tools_name_visibility", "name", "visibility"),
        Index("ix_tools_status", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    category: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, nullable=False)
    input_schema: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    visibility: Mapped[str] = mapped_column(String(20), nullable=False, default=ToolVisibility.PRIVATE.value)
    requires_approval: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=ToolStatus.PENDING.value)
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Team(Base):
    """Agents working together (seed 002): ``topology_config`` says who and in which order."""

    __tablename__ = "teams"
    __table_args__ = (
        one_of("status", TeamStatus),
        UniqueConstraint("owner_id", "name"),
        Index("ix_teams_status", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    topology_config: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=TeamStatus.ACTIVE.value)
    timeout_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=300)
    max_iterations: Mapped[int] = mapped_column(Integer, nullable=False, default=50)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Squad(Base):
    __tablename__ = "squads"
    __table_args__ = (
        one_of("status", SquadStatus),
        UniqueConstraint("creator_id", "name"),
        Index("ix_squads_creator_id", "creator_id"),
        Index("ix_squads_status", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    creator_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=SquadStatus.DRAFT.value)
    price_per_execution: Mapped[Decimal | None] = mapped_column(Numeric(10, 6))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class SquadMember(Base):
    __tablename__ = "squad_members"
    __table_args__ = (
        UniqueConstraint("squad_id", "agent_id"),
        Index("ix_squad_members_agent_id", "agent_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    squad_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("squads.id", ondelete="CASCADE"), nullable=False)
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False)
    role: Mapped[str] = mapped_column(String(50), nullable=False, default="member")
    added_at: Mapped[datetime] = created_at()


class Provider(Base):
    """An owner's model provider; its endpoints, credentials and models go with it."""

    __tablename__ = "providers"
    __table_args__ = (
        one_of("type", ProviderType),
        UniqueConstraint("owner_id", "name"),
        Index("ix_providers_type", "type"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Credential(Base):
    """A provider's API key and secret, each AES-256-GCM encrypted with its own nonce.

    ``quota_used`` counts the requests of ``quota_day`` (UTC); a credential that got a 429,
    401 or 403 is not used before ``cooldown_until``."""

    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("provider_id", "alias"),
        Index("ix_credentials_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("providers.id", ondelete="CASCADE"), nullable=False)
    alias: Mapped[str | None] = mapped_column(String(100))
    api_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    api_key_iv: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    secret_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    secret_key_iv: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    quota_limit: Mapped[int | None] = mapped_column(Integer)
    quota_used: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    quota_day: Mapped[date | None] = mapped_column(Date)
    # The key's last four characters, to tell keys apart without showing them.
    key_hint: Mapped[str] = mapped_column(String(8), nullable=False)
    cooldown_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
