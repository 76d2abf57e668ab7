"""What started an execution and what its steps produced (seed 003: task_lineage,
task_artifact_ref)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, created_at, one_of, uuid_pk
from orchestrator.db.types import JSONType
from orchestrator.states import ArtifactRef, LineageKind


class ExecutionLineage(Base):
    """One origin of an execution: the API key, app or schedule that submitted it, the parent
    execution whose node started it, or the execution it replays. ``ref_id`` is that row's id
    (no foreign key: keys, apps and schedules may go while the history stays)."""

    __tablename__ = "execution_lineage"
    __table_args__ = (
        one_of("kind", LineageKind),
        UniqueConstraint("execution_id", "kind"),
        Index("ix_execution_lineage_kind_ref_id", "kind", "ref_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    execution_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="CASCADE"),
                                                    nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    ref_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    meta: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    created_at: Mapped[datetime] = created_at()


class ExecutionArtifact(Base):
    """A file or reference a step produced: its content (up to a limit, in the database) or a
    URI where it lives (object storage, a repository, a URL)."""

    __tablename__ = "execution_artifacts"
    __table_args__ = (
        one_of("ref_type", ArtifactRef),
        UniqueConstraint("step_id", "position"),
        Index("ix_execution_artifacts_execution_id_created_at", "execution_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    execution_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="CASCADE"),
                                                    nullable=False)
    step_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("execution_steps.id", ondelete="CASCADE"),
                                               nullable=False)
    node_id: Mapped[str] = mapped_column(String(100), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    media_type: Mapped[str] = mapped_column(String(255), nullable=False)
    ref_type: Mapped[str] = mapped_column(String(10), nullable=False)
    uri: Mapped[str | None] = mapped_column(Text)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
