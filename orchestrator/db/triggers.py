"""What starts a workflow from outside and what tells the outside about its executions:
webhook triggers (with the signatures they have accepted, so a replay is refused) and
notification targets (with one delivery row per notification sent)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orchestrator.db.accounts import User
from orchestrator.db.base import Base, created_at, one_of, updated_at, uuid_pk
from orchestrator.db.types import JSONType, UTCDateTime
from orchestrator.states import DeliveryStatus, NotificationEvent


class Webhook(Base):
    """A URL that starts an execution of a workflow when a request signed with its secret
    (sealed: ``secret_encrypted``, ``secret_iv``, ``key_id``) arrives."""

    __tablename__ = "webhooks"
    __table_args__ = (
        CheckConstraint("tolerance_seconds > 0", name="tolerance_seconds"),
        Index("ix_webhooks_workflow_id_created_at", "workflow_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    workflow_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workflows.id", ondelete="CASCADE"),
                                                   nullable=False)
    name: Mapped[str | None] = mapped_column(String(100))
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    secret_iv: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    # JSON with templates that see body, headers and query; NULL: the body is the input.
    input_template: Mapped[Any] = mapped_column(JSONType, nullable=True)
    idempotency_header: Mapped[str | None] = mapped_column(String(100))
    idempotency_field: Mapped[str | None] = mapped_column(String(255))
    tolerance_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=300)
    created_at: Mapped[datetime] = created_at()
    last_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    owner: Mapped[User] = relationship(lazy="joined")


class WebhookSignature(Base):
    """A signature a webhook accepted, kept while a replay of it could still be in its window."""

    __tablename__ = "webhook_signatures"
    __table_args__ = (
        UniqueConstraint("webhook_id", "signature"),
        Index("ix_webhook_signatures_webhook_id_seen_at", "webhook_id", "seen_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    webhook_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False)
    signature: Mapped[str] = mapped_column(String(64), nullable=False)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class NotificationTarget(Base):
    """A URL told about the executions of a workflow, or of one execution; the URL and the
    secret its bodies are signed with are sealed."""

    __tablename__ = "notification_targets"
    __table_args__ = (
        CheckConstraint("(workflow_id IS NULL) <> (execution_id IS NULL)", name="workflow_or_execution"),
        Index("ix_notification_targets_workflow_id", "workflow_id"),
        Index("ix_notification_targets_execution_id", "execution_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("workflows.id", ondelete="CASCADE"))
    execution_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="CASCADE"))
    url_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    url_iv: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    secret_iv: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    events: Mapped[list[str]] = mapped_column(JSONType, nullable=False)      # NotificationEvent values
    created_at: Mapped[datetime] = created_at()


class NotificationDelivery(Base):
    """One notification to one target: written in the transaction of the transition it
    tells of, sent (and sent again, with backoff) by the workers' notifier."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        one_of("status", DeliveryStatus),
        one_of("event", NotificationEvent),
        UniqueConstraint("target_id", "execution_id", "event_seq"),
        Index("ix_notification_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_notification_deliveries_execution_id_created_at", "execution_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    target_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("notification_targets.id", ondelete="CASCADE"),
                                                 nullable=False)
    execution_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="CASCADE"),
                                                    nullable=False)
    event: Mapped[str] = mapped_column(String(30), nullable=False)
    event_seq: Mapped[int] = mapped_column(Integer, nullable=False)     # the execution event it tells of
    payload: Mapped[Any] = mapped_column(JSONType, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
