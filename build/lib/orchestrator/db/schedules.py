"""Cron schedules (seed 001) and one row per fired slot, so no slot fires twice."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, created_at, one_of, updated_at, uuid_pk
from orchestrator.db.types import JSONType, UTCDateTime
from orchestrator.states import MisfirePolicy, ScheduleStatus


class ScheduledWorkflow(Base):
    __tablename__ = "scheduled_workflows"
    __table_args__ = (
        one_of("status", ScheduleStatus),
        one_of("misfire_policy", MisfirePolicy),
        Index("ix_scheduled_workflows_status_workflow_id", "status", "workflow_id"),
        Index("ix_scheduled_workflows_status_next_run_at", "status", "next_run_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workflow_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    cron_expression: Mapped[str] = mapped_column(Text, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=ScheduleStatus.ACTIVE.value)
    input: Mapped[Any] = mapped_column(JSONType, nullable=True)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    misfire_policy: Mapped[str] = mapped_column(String(20), nullable=False, default=MisfirePolicy.RUN_ONCE.value)
    max_retries: Mapped[int] = mapped_column(Integer, nullable=False, default=3)
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_execution_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_execution_status: Mapped[str | None] = mapped_column(String(20))
    last_error_message: Mapped[str | None] = mapped_column(Text)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class ScheduleFire(Base):
    __tablename__ = "schedule_fires"
    __table_args__ = (UniqueConstraint("schedule_id", "slot_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    schedule_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("scheduled_workflows.id", ondelete="CASCADE"), nullable=False
    )
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    execution_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="SET NULL"))
    fired_at: Mapped[datetime] = created_at()
