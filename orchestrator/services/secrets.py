"""Secrets: set, list and delete an owner's named values; resolve them for a node's templates
(``{{ secrets.NAME }}``) and redact them from whatever is stored or shown.

A value is sealed with the keyring (the row id as associated data) and leaves this module only
through ``secret_values``, which the engine calls when a node runs.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing, open_field, seal_field
from orchestrator.db import Secret, User
from orchestrator.services.errors import Invalid, NotFound
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, list_owned

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MAX_VALUE_BYTES = 64 * 1024
MASK = "[secret]"


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


def secret_values(session: Session, keyring: KeyRing, owner_id: uuid.UUID, names: Iterable[str]) -> dict[str, str]:
    """The plaintext of the owner's secrets among ``names`` (unknown names are left out, so a
    template naming one fails as undefined). For a node's templates only: never store the result."""
    wanted = set(names)
    if not wanted:
        return {}
    rows = session.scalars(select(Secret).where(Secret.owner_id == owner_id, Secret.name.in_(wanted)))
    return {row.name: open_field(keyring, row, "value").decode() for row in rows}


def redact_values(value: Any, secrets: Mapping[str, str] | Iterable[str]) -> Any:
    """``value`` (any JSON-like data or a string) with every occurrence of a secret's value
    replaced by ``[secret]``, in strings and in mapping keys, longest values first."""
    plaintexts = sorted({s for s in (secrets.values() if isinstance(secrets, Mapping) else secrets) if s},
                        key=len, reverse=True)
    if not plaintexts:
        return value
    pattern = re.compile("|".join(re.escape(s) for s in plaintexts))

    def scrub(item: Any) -> Any:
        if isinstance(item, str):
            return pattern.sub(MASK, item)
        if isinstance(item, Mapping):
            return {scrub(k): scrub(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [scrub(v) for v in item]
        return item
    return scrub(value)
