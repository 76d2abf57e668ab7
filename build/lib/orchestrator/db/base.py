"""Declarative base, naming convention and column helpers shared by every model."""
from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum

from sqlalchemy import CheckConstraint, MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from orchestrator.db.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def created_at() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, nullable=False, default=utcnow)


def updated_at() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


def one_of(column: str, enum: type[Enum], name: str | None = None) -> CheckConstraint:
    """CHECK (column IN (...)) from an Enum, so the allowed values are stated once."""
    allowed = ", ".join(f"'{m.value}'" for m in enum)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)
