"""Apps, their keys, workflow groups and the licenses that join them (seed 004: ai_app,
flow.group_id, license).

An app is a client of its owner's (a website's backend, a partner's integration) that calls
the published workflows of the groups it is licensed for, with keys of its own.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orchestrator.db.accounts import HashedKey, User
from orchestrator.db.base import Base, created_at, one_of, updated_at, uuid_pk
from orchestrator.states import AppStatus, AuditPolicy


class WorkflowGroup(Base):
    """A named set of an owner's workflows; a workflow belongs to at most one (``workflows.group_id``)."""

    __tablename__ = "workflow_groups"
    __table_args__ = (UniqueConstraint("owner_id", "name"),
                      Index("ix_workflow_groups_owner_id_created_at", "owner_id", "created_at"))

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class App(Base):
    """Seed 004's ai_app: ``alias_id`` names it for outside systems (unique per owner); its
    ``api_key``/``api_secret`` pair is an ``AppKey``: the visible prefix and the hashed key."""

    __tablename__ = "apps"
    __table_args__ = (
        one_of("status", AppStatus),
        one_of("audit_policy", AuditPolicy),
        UniqueConstraint("owner_id", "alias_id"),
        Index("ix_apps_owner_id_created_at", "owner_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    alias_id: Mapped[str] = mapped_column(String(64), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=AppStatus.ACTIVE.value)
    audit_policy: Mapped[str] = mapped_column(String(20), nullable=False, default=AuditPolicy.CHANGES.value)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    owner: Mapped[User] = relationship(lazy="joined")


class AppKey(HashedKey, Base):
    """An app's key: shown once, stored as SHA-256 with a visible prefix, revocable."""

    __tablename__ = "app_keys"
    __table_args__ = (Index("ix_app_keys_app_id", "app_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    app_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("apps.id", ondelete="CASCADE"), nullable=False)

    app: Mapped[App] = relationship(lazy="joined")


class AppLicense(Base):
    """``app_id`` may run the published workflows of ``group_id`` (seed 004 license)."""

    __tablename__ = "app_licenses"
    __table_args__ = (UniqueConstraint("app_id", "group_id"), Index("ix_app_licenses_group_id", "group_id"))

    id: Mapped[uuid.UUID] = uuid_pk()
    app_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("apps.id", ondelete="CASCADE"), nullable=False)
    group_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workflow_groups.id", ondelete="CASCADE"),
                                                nullable=False)
    granted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()

    group: Mapped[WorkflowGroup] = relationship(lazy="joined")
