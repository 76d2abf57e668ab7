"""Workflows, their immutable versions (encrypted definition) and each version's structure."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orchestrator.db.base import Base, created_at, one_of, updated_at, uuid_pk
from orchestrator.db.types import JSONType, UTCDateTime
from orchestrator.states import EdgeOutcome, WorkflowSource, WorkflowStatus


class Workflow(Base):
    __tablename__ = "workflows"
    __table_args__ = (
        one_of("status", WorkflowStatus),
        one_of("source", WorkflowSource),
        Index("ix_workflows_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_workflows_status", "status"),
        Index("ix_workflows_squad_id", "squad_id"),
        Index("ix_workflows_group_id", "group_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    squad_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("squads.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=WorkflowStatus.DRAFT.value)
    source: Mapped[str] = mapped_column(String(32), nullable=False, default=WorkflowSource.NATIVE.value)
    source_id: Mapped[str | None] = mapped_column(String(255))
    latest_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    published_version: Mapped[int | None] = mapped_column(Integer)
    # Seed 004's flow.version and release_data: when and by whom the published version was released.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    # Seed 004's flow.group_id: at most one group, whose licensed apps may run it once published.
    group_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("workflow_groups.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    versions: Mapped[list["WorkflowVersion"]] = relationship(
        back_populates="workflow", cascade="all, delete-orphan", passive_deletes=True, order_by="WorkflowVersion.version"
    )


class WorkflowVersion(Base):
    """One immutable version; the definition is AES-256-GCM encrypted (seed 000)."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "version"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    workflow_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    definition_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    definition_iv: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    checksum: Mapped[str] = mapped_column(String(64), nullable=False)
    label: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_at()

    workflow: Mapped[Workflow] = relationship(back_populates="versions")
    nodes: Mapped[list["Node"]] = relationship(cascade="all, delete-orphan", passive_deletes=True)
    edges: Mapped[list["Edge"]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class WorkflowSnapshot(Base):
    """A labelled snapshot of a version (seed 001 workflow_snapshots), with who made it and the
    structural diff from the previous snapshot (or version), sealed like definitions."""

    __tablename__ = "workflow_snapshots"
    __table_args__ = (Index("ix_workflow_snapshots_workflow_id_created_at", "workflow_id", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    workflow_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workflows.id", ondelete="CASCADE"), nullable=False)
    workflow_version_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workflow_versions.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    label: Mapped[str] = mapped_column(String(255), nullable=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    # What the diff compares against: the previous snapshot's version, else the version before.
    base_version: Mapped[int | None] = mapped_column(Integer)
    diff_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    diff_iv: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = created_at()


class Node(Base):
    """The structure of a version (seed 001): ids, types and positions. Names, configs and edge
    conditions stay in the encrypted definition only; ``name`` and ``Edge.condition`` are kept
    empty."""

    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("workflow_version_id", "node_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    workflow_version_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workflow_versions.id", ondelete="CASCADE"), nullable=False
    )
    node_id: Mapped[str] = mapped_column(String(100), nullable=False)
    type: Mapped[str] = mapped_column(String(50), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    position_x: Mapped[float | None] = mapped_column(Float)
    position_y: Mapped[float | None] = mapped_column(Float)


class Edge(Base):
    __tablename__ = "edges"
    __table_args__ = (
        one_of("on_outcome", EdgeOutcome),
        Index("ix_edges_workflow_version_id", "workflow_version_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workflow_version_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workflow_versions.id", ondelete="CASCADE"), nullable=False
    )
    source_node_id: Mapped[str] = mapped_column(String(100), nullable=False)
    target_node_id: Mapped[str] = mapped_column(String(100), nullable=False)
    condition: Mapped[str | None] = mapped_column(Text)
    on_outcome: Mapped[str] = mapped_column(String(20), nullable=False, default=EdgeOutcome.SUCCESS.value)


class WorkflowTemplate(Base):
    __tablename__ = "workflow_templates"
    __table_args__ = (
        Index("ix_workflow_templates_category", "category"),
        Index("ix_workflow_templates_is_builtin_name", "is_builtin", "name"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(100))
    definition: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    is_builtin: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    creator_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    usage_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
