"""Secrets as the engine meets them when a node runs: the values a node's templates name
(``{{ secrets.NAME }}``), and their redaction from whatever is stored or shown (step input
and output, events, errors, tracebacks, logs). Storing them is ``orchestrator.services.secrets``."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing, open_field
from orchestrator.db import Secret
from orchestrator.templating import referenced_keys

NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MASK = "[secret]"


def secret_names(config: Any) -> set[str]:
    """The secrets that templates in a node's config name."""
    return set(referenced_keys("secrets", config))


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


def redact_recorded(context: Any, secrets: Mapping[str, str]) -> None:
    """Mask ``secrets`` in what a node recorded for people during a turn (``context.calls``:
    request, response, error and metadata; ``context.messages``: content), in place, so that the
    rows written and the hooks that read them (structured outputs) see the masked form."""
    if not secrets:
        return
    context.calls[:] = [replace(call, request=redact_values(call.request, secrets),
                                response=redact_values(call.response, secrets),
                                error=redact_values(call.error, secrets), meta=redact_values(call.meta, secrets))
                        for call in context.calls]
    context.messages[:] = [replace(message, content=redact_values(message.content, secrets))
                           for message in context.messages]
