"""Domain errors; the API maps each to one HTTP status in one place."""
from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator.db import User


class DomainError(Exception):
    def __init__(self, message: str, errors: Any = None):
        super().__init__(message)
        self.message = message
        self.errors = errors


class NotFound(DomainError):
    """Unknown, or owned by someone else (both answer the same)."""


def owned(session: Session, model: type, row_id: Any, owner: User, what: str, **get_options: Any) -> Any:
    """The ``model`` row with ``row_id`` if ``owner`` owns it; else NotFound, as for an unknown id."""
    row = session.get(model, row_id, **get_options)
    if row is None or row.owner_id != owner.id:
        raise NotFound(f"{what} {row_id} not found")
    return row


def flush_unique(session: Session, what: str) -> None:
    """Flush, turning a unique violation into a Conflict that names ``what``."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"{what} already exists") from None


def apply_changes(row: Any, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(row, name, value)


class Conflict(DomainError):
    """The state or an idempotency key does not allow the request."""


class Unauthorized(DomainError):
    """A request that proves who sent it some other way than an API key (a webhook's
    signature) failed to."""


class Forbidden(DomainError):
    """The caller may see the resource but not do this to it (an admin's decision)."""


class Invalid(DomainError):
    """A definition or an input fails validation."""


class RateLimited(DomainError):
    """Over a rate limit; ``retry_after`` seconds until the next slot."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
