"""The LLM layer's tables: a provider's endpoints and models, the ledger of model requests and
usage per day, and the question/answer history that gives an ``llm`` node its memory."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, LargeBinary, Numeric, String, \
    UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, created_at, one_of, updated_at, uuid_pk
from orchestrator.db.types import JSONType, UTCDateTime
from orchestrator.states import ModelStatus, ModelType

PRICE = Numeric(18, 8)


class Endpoint(Base):
    """Where a provider answers; the default active one is used."""

    __tablename__ = "endpoints"
    __table_args__ = (UniqueConstraint("provider_id", "name"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("providers.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    base_url: Mapped[str] = mapped_column(String(2048), nullable=False)
    api_version: Mapped[str | None] = mapped_column(String(50))
    region: Mapped[str | None] = mapped_column(String(50))
    timeout_connect: Mapped[float] = mapped_column(Float, nullable=False, default=10.0)
    timeout_read: Mapped[float] = mapped_column(Float, nullable=False, default=60.0)
    retry_count: Mapped[int] = mapped_column(Integer, nullable=False, default=3)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class LLMModel(Base):
    """A model a provider serves; prices are per 1,000 tokens (NULL: unknown)."""

    __tablename__ = "models"
    __table_args__ = (
        one_of("status", ModelStatus),
        one_of("type", ModelType),
        UniqueConstraint("provider_id", "model_id"),
        Index("ix_models_status", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("providers.id", ondelete="CASCADE"), nullable=False)
    model_id: Mapped[str] = mapped_column(String(200), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    version: Mapped[str | None] = mapped_column(String(50))
    type: Mapped[str] = mapped_column(String(20), nullable=False, default=ModelType.CHAT.value)
    context_window: Mapped[int | None] = mapped_column(Integer)
    max_output_tokens: Mapped[int | None] = mapped_column(Integer)
    input_price: Mapped[Decimal | None] = mapped_column(PRICE)
    output_price: Mapped[Decimal | None] = mapped_column(PRICE)
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=ModelStatus.AVAILABLE.value)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


_OPEN = "settled_at IS NULL"


class LedgerEntry(Base):
    """One model request (``id``: its ``step_calls`` row's). Written before the request is
    sent, in a short transaction of its own: ``reserved`` is its worst-case cost (NULL when the
    model has no price), held against the owner's daily budget while the request's step runs
    that attempt and turn. Settled in the commit of the turn that made it: ``settled_at``, the
    tokens and the real ``cost``. Only the request's own transactions write its row, so no
    two executions ever wait on each other here; the day's spend and ``GET /usage`` are sums.
    Rows of finished days are rolled up into ``usage_metrics`` by the sweeper."""

    __tablename__ = "llm_ledger"
    __table_args__ = (
        Index("ix_llm_ledger_owner_id_day", "owner_id", "day"),
        Index("ix_llm_ledger_open", "owner_id", postgresql_where=text(_OPEN), sqlite_where=text(_OPEN)),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    workflow_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workflows.id", ondelete="CASCADE"),
                                                   nullable=False)
    # Not a foreign key: checking one would wait for the execution's row lock.
    execution_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    node_id: Mapped[str] = mapped_column(String(100), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    turn: Mapped[int] = mapped_column(Integer, nullable=False)
    provider: Mapped[str] = mapped_column(String(100), nullable=False)
    model: Mapped[str] = mapped_column(String(200), nullable=False)
    reserved: Mapped[Decimal | None] = mapped_column(PRICE)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    cost: Mapped[Decimal | None] = mapped_column(PRICE)
    created_at: Mapped[datetime] = created_at()


class UsageMetric(Base):
    """Model usage per day, owner, workflow, provider and model (for billing and limits), rolled
    up from the ledger once a day is over. ``cost`` sums the calls whose price was known; NULL
    while none was."""

    __tablename__ = "usage_metrics"
    __table_args__ = (
        UniqueConstraint("owner_id", "day", "workflow_id", "provider", "model"),
        Index("ix_usage_metrics_day", "day"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    day: Mapped[date] = mapped_column(Date, nullable=False)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    workflow_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workflows.id", ondelete="CASCADE"),
                                                   nullable=False)
    provider: Mapped[str] = mapped_column(String(100), nullable=False)
    model: Mapped[str] = mapped_column(String(200), nullable=False)
    requests: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    cost: Mapped[Decimal | None] = mapped_column(PRICE)
    updated_at: Mapped[datetime] = updated_at()


class WorkflowNodeHistory(Base):
    """One question and its answer for a workflow's node and memory key, sealed:
    ``pair`` is AES-GCM encrypted JSON ``{question, answer}``."""

    __tablename__ = "workflow_node_history"
    __table_args__ = (
        Index("ix_workflow_node_history_lookup", "workflow_id", "node_id", "memory_key", "created_at"),
        Index("ix_workflow_node_history_execution_id", "execution_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    workflow_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workflows.id", ondelete="CASCADE"),
                                                   nullable=False)
    node_id: Mapped[str] = mapped_column(String(100), nullable=False)
    memory_key: Mapped[str] = mapped_column(String(255), nullable=False)
    execution_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("executions.id", ondelete="CASCADE"),
                                                    nullable=False)
    pair_encrypted: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    pair_iv: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_id: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = created_at()
