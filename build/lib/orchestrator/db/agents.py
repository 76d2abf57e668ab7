"""Agent layer (seeds 000, 001, 002): agents, squads and the LLM providers' credentials."""
from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, Numeric, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, created_at, one_of, updated_at, uuid_pk
from orchestrator.db.types import UTCDateTime
from orchestrator.states import AgentStatus, SquadStatus


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (
        one_of("status", AgentStatus),
        Index("ix_agents_status", "status"),
        Index("ix_agents_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    start: Mapped[str] = mapped_column(Text, nullable=False)
    goal: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=AgentStatus.ACTIVE.value)
    created_at: Mapped[datetime] = created_at()


class Squad(Base):
    __tablename__ = "squads"
    __table_args__ = (
        one_of("status", SquadStatus),
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
    agent_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("agents.id"), nullable=False)
    role: Mapped[str] = mapped_column(String(50), nullable=False, default="member")
    added_at: Mapped[datetime] = created_at()


class Provider(Base):
    __tablename__ = "providers"
    __table_args__ = (Index("ix_providers_type", "type"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Credential(Base):
    """A provider's API key and secret, each AES-256-GCM encrypted with its own nonce."""

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
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
