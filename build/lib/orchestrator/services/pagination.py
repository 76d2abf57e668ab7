"""Keyset pagination, newest first: an opaque cursor holds the last row's (created_at, id)."""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from orchestrator.services.errors import Invalid

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; ``next_cursor`` is None on the last page."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
        when = datetime.fromisoformat(created_at)
        if when.tzinfo is None:
            raise ValueError("naive timestamp")
        return when, uuid.UUID(row_id)
    except (binascii.Error, ValueError, TypeError, AttributeError):
        raise Invalid("invalid cursor", {"cursor": ["not a cursor that this API returned"]}) from None


def paginate(session: Session, query: Select, model: Any, cursor: str | None, limit: int) -> Page[Any]:
    """Run ``query`` (rows of ``model``, or rows with its ``id`` and ``created_at``) one page at a time."""
    if cursor:
        created_at, row_id = decode_cursor(cursor)
        query = query.where(or_(model.created_at < created_at,
                                and_(model.created_at == created_at, model.id < row_id)))
    result = session.execute(query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1))
    # An entity query gives one-element rows; a query of columns gives rows that dump by name.
    rows = [row[0] if len(row) == 1 else row for row in result]
    if len(rows) <= limit:
        return Page(rows)
    last = rows[limit - 1]
    return Page(rows[:limit], encode_cursor(last.created_at, last.id))


def list_owned(session: Session, model: Any, owner: Any, cursor: str | None, limit: int, **filters: Any) -> Page[Any]:
    """``owner``'s rows of ``model`` one page at a time, narrowed to the filters given (not None)."""
    query = select(model).where(model.owner_id == owner.id, *(getattr(model, name) == value
                                                              for name, value in filters.items() if value is not None))
    return paginate(session, query, model, cursor, limit)
