"""Governance (seeds 001 and 004): the audit log, licenses to run another owner's workflow,
and usage counted per owner and period for limits and billing."""
from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orchestrator.db.accounts import User
from orchestrator.db.base import Base, created_at, one_of, uuid_pk
from orchestrator.db.types import JSONType, UTCDateTime
from orchestrator.states import UsageKind


class AuditLog(Base):
    """One change made through the API or the CLI, written in the transaction that made it."""

    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("ix_audit_logs_user_id_created_at", "user_id", "created_at"),
        Index("ix_audit_logs_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("api_keys.id", ondelete="SET NULL"))
    app_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("apps.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    object_type: Mapped[str] = mapped_column(String(50), nullable=False)
    object_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[Any] = mapped_column(JSONType, nullable=True)
    client_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class License(Base):
    """``user_id`` may run ``workflow_id`` (another owner's): submit executions and read those."""

    __tablename__ = "licenses"
    __table_args__ = (UniqueConstraint("workflow_id", "user_id"), Index("ix_licenses_user_id", "user_id"))

    id: Mapped[uuid.UUID] = uuid_pk()
    workflow_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workflows.id", ondelete="CASCADE"),
                                                   nullable=False)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    granted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class UsageCounter(Base):
    """What an owner used in one period: executions per minute, LLM cost per day."""

    __tablename__ = "usage_counters"
    __table_args__ = (UniqueConstraint("user_id", "metric", "period_start"), one_of("metric", UsageKind))

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    metric: Mapped[str] = mapped_column(String(30), nullable=False)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    value: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, default=0)
