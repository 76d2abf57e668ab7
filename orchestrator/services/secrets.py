"""Secrets: set, list and delete an owner's named values (sealed with the keyring, the row id
as associated data; never returned). What the engine needs when a node runs is in
``orchestrator.secrets``."""
from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing, seal_field
from orchestrator.db import Secret, User
from orchestrator.secrets import NAME_PATTERN
from orchestrator.services.errors import Invalid, NotFound
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, list_owned

MAX_VALUE_BYTES = 64 * 1024


def _check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise Invalid("invalid secret name", {"name": [
            "letters, digits and _, not starting with a digit, at most 100 characters"]})


def put_secret(session: Session, keyring: KeyRing, owner: User, name: str, value: str) -> tuple[Secret, bool]:
    """Create the secret ``name`` or replace its value; (row, whether it is new)."""
    _check_name(name)
    if not value:
        raise Invalid("invalid secret value", {"value": ["must not be empty"]})
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise Invalid("invalid secret value", {"value": [f"longer than {MAX_VALUE_BYTES} bytes"]})
    secret = session.scalar(select(Secret).where(Secret.owner_id == owner.id, Secret.name == name))
    created = secret is None
    if created:
        secret = Secret(id=uuid.uuid4(), owner_id=owner.id, name=name)
        session.add(secret)
    seal_field(keyring, secret, "value", value.encode())
    session.flush()
    return secret, created


def list_secrets(session: Session, owner: User, *, cursor: str | None = None,
                 limit: int = DEFAULT_LIMIT) -> Page[Secret]:
    return list_owned(session, Secret, owner, cursor, limit)


def delete_secret(session: Session, owner: User, name: str) -> None:
    secret = session.scalar(select(Secret).where(Secret.owner_id == owner.id, Secret.name == name))
    if secret is None:
        raise NotFound(f"secret {name} not found")
    session.delete(secret)
