"""Executions, their steps and event log, and what nodes share while they run."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, created_at, one_of, updated_at, uuid_pk
from orchestrator.db.types import JSONType, UTCDateTime
from orchestrator.states import ApprovalStatus, ExecutionStatus, StepStatus, Trigger


class Execution(Base):
    __tablename__ = "executions"
    __table_args__ = (
        one_of("status", ExecutionStatus),
        one_of("trigger", Trigger),
        CheckConstraint("depth >= 0", name="depth"),
        CheckConstraint("duration_ms >= 0", name="duration_ms"),
        UniqueConstraint("owner_id", "idempotency_key"),
        Index("ix_executions_workflow_id_created_at", "workflow_id", "created_at"),
        Index("ix_executions_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_executions_status", "status"),
        Index("ix_executions_schedule_id", "schedule_id"),
        Index("ix_executions_parent_execution_id", "parent_execution_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # No cascade: a workflow with history is archived, never deleted from under it (seed 000).
    workflow_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workflows.id"), nullable=False)
    workflow_version_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workflow_versions.id"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=ExecutionStatus.PENDING.value)
    trigger: Mapped[str] = mapped_column(String(20), nullable=False, default=Trigger.API.value)
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("scheduled_workflows.id", ondelete="SET NULL")
    )
    parent_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("executions.id", ondelete="SET NULL")
    )
    # The step of the parent execution that waits for this child (a subworkflow node); no
    # foreign key: steps already refer to executions, and the parent row keeps it alive.
    parent_step_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    depth: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    input: Mapped[Any] = mapped_column(JSONType, nullable=True)
    output: Mapped[Any] = mapped_column(JSONType, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    event_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    step_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Summed over the execution's calls (section 11); cost stays NULL while no price is known.
    total_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    total_cost: Mapped[Decimal | None] = mapped_column(Numeric(18, 8))
    created_at: Mapped[datetime] = created_at()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = updated_at()
    duration_ms: Mapped[int | None] = mapped_column(Integer)


_DUE = "status IN ('queued', 'waiting')"
_LEASED = "status = 'running'"


class ExecutionStep(Base):
    """One row per execution and node: the single source of truth for that node's run."""

    __tablename__ = "execution_steps"
    __table_args__ = (
        one_of("status", StepStatus),
        CheckConstraint("attempt >= 1", name="attempt"),
        CheckConstraint("turn >= 0", name="turn"),
        CheckConstraint("duration_ms >= 0", name="duration_ms"),
        UniqueConstraint("execution_id", "node_id"),
        # Partial: only the steps the sweeper looks for (queued or waiting, and running) are
        # indexed, so a step that completes, like most transitions, writes fewer index entries.
        Index("ix_execution_steps_due", "not_before", postgresql_where=text(_DUE), sqlite_where=text(_DUE)),
        Index("ix_execution_steps_lease", "lease_expires_at", postgresql_where=text(_LEASED),
              sqlite_where=text(_LEASED)),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    execution_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="CASCADE"), nullable=False)
    node_id: Mapped[str] = mapped_column(String(100), nullable=False)
    node_type: Mapped[str] = mapped_column(String(50), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=StepStatus.PENDING.value)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # Turns of the current attempt so far (a node that returns Continue runs again as turn + 1).
    turn: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Attempts that failed (a worker lost mid-attempt does not count against max_attempts).
    failed_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    input: Mapped[Any] = mapped_column(JSONType, nullable=True)
    output: Mapped[Any] = mapped_column(JSONType, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)
    # A queued step is not sent before this instant (retry backoff); a waiting one wakes then.
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the message for the current attempt was (about to be) sent; NULL: not sent yet.
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    celery_task_id: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(255))
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class ExecutionEvent(Base):
    """The append-only event log; ``seq`` increases per execution (seed 002 execution_logs)."""

    __tablename__ = "execution_events"
    __table_args__ = (UniqueConstraint("execution_id", "seq"), Index("ix_execution_events_created_at", "created_at"))

    id: Mapped[uuid.UUID] = uuid_pk()
    execution_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="CASCADE"), nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    event_type: Mapped[str] = mapped_column(String(50), nullable=False)
    node_id: Mapped[str | None] = mapped_column(String(100))
    attempt: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = created_at()


class SharedContext(Base):
    __tablename__ = "shared_contexts"
    __table_args__ = (UniqueConstraint("execution_id", "namespace"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    execution_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="CASCADE"), nullable=False)
    namespace: Mapped[str] = mapped_column(String(100), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class A2AMessage(Base):
    __tablename__ = "a2a_messages"
    __table_args__ = (Index("ix_a2a_messages_execution_id", "execution_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    execution_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="CASCADE"), nullable=False)
    from_node: Mapped[str] = mapped_column(String(100), nullable=False)
    to_node: Mapped[str] = mapped_column(String(100), nullable=False)
    message_type: Mapped[str] = mapped_column(String(50), nullable=False)
    content: Mapped[Any] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = created_at()


class HumanApproval(Base):
    """A pending human decision; the token is sent once and stored only as its SHA-256."""

    __tablename__ = "human_approvals"
    __table_args__ = (
        one_of("status", ApprovalStatus),
        Index("ix_human_approvals_execution_id", "execution_id"),
        Index("ix_human_approvals_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    execution_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="CASCADE"), nullable=False)
    step_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("execution_steps.id", ondelete="CASCADE"), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=ApprovalStatus.PENDING.value)
    approver_email: Mapped[str | None] = mapped_column(String(255))
    # What the approver decides on, as the node put it (redacted like a step's input).
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    decision_data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = created_at()


class StructuredOutput(Base):
    """A node's structured answer and whether it met its schema (one per execution and node)."""

    __tablename__ = "structured_outputs"
    __table_args__ = (UniqueConstraint("execution_id", "node_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    execution_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="CASCADE"),
                                                    nullable=False)
    node_id: Mapped[str] = mapped_column(String(100), nullable=False)
    output_schema: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    structured_data: Mapped[Any] = mapped_column(JSONType, nullable=False)
    schema_valid: Mapped[bool] = mapped_column(Boolean, nullable=False)
    validation_errors: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = created_at()


class StepCheckpoint(Base):
    """The sealed state a node handed to its next turn (AES-GCM, associated data: step and turn)."""

    __tablename__ = "step_checkpoints"
    __table_args__ = (UniqueConstraint("step_id", "turn"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    step_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("execution_steps.id", ondelete="CASCADE"),
                                               nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    turn: Mapped[int] = mapped_column(Integer, nullable=False)
    state_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    state_iv: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = created_at()


class StepCall(Base):
    """One call a step made to the outside world (a model, a tool): seed 002's call log.
    Request, response and error are redacted before they are written."""

    __tablename__ = "step_calls"
    __table_args__ = (
        CheckConstraint("kind IN ('llm', 'tool')", name="kind"),
        CheckConstraint("status IN ('ok', 'error')", name="status"),
        UniqueConstraint("step_id", "attempt", "turn", "seq"),
        Index("ix_step_calls_execution_id_created_at", "execution_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    execution_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="CASCADE"),
                                                    nullable=False)
    step_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("execution_steps.id", ondelete="CASCADE"),
                                               nullable=False)
    node_id: Mapped[str] = mapped_column(String(100), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    turn: Mapped[int] = mapped_column(Integer, nullable=False)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    target: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    request: Mapped[Any] = mapped_column(JSONType, nullable=True)
    response: Mapped[Any] = mapped_column(JSONType, nullable=True)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    cost: Mapped[Decimal | None] = mapped_column(Numeric(18, 8))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    created_at: Mapped[datetime] = created_at()
