"""Key rotation: re-encrypt every encrypted column with the first configured key."""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing, open_field, seal_field
from orchestrator.db import (
    Credential, NotificationTarget, Secret, Webhook, WorkflowNodeHistory, WorkflowSnapshot, WorkflowVersion,
)

# Every model with encrypted fields, and those fields (see orchestrator.crypto; each has key_id).
ENCRYPTED_FIELDS: dict[type[Any], tuple[str, ...]] = {
    WorkflowVersion: ("definition",),
    Credential: ("api_key", "secret_key"),
    Secret: ("value",),
    WorkflowNodeHistory: ("pair",),
    WorkflowSnapshot: ("diff",),
    Webhook: ("secret",),
    NotificationTarget: ("url", "secret"),
}


def rotate_keys(
    session: Session, keyring: KeyRing, progress: Callable[[str, int], None] = lambda table, n: None
) -> int:
    """Re-seal each row not yet under the primary key; returns how many rows changed."""
    changed = 0
    for model, fields in ENCRYPTED_FIELDS.items():
        rows = session.scalars(select(model).where(model.key_id != keyring.primary_key_id)).all()
        for row in rows:
            plaintexts = {f: open_field(keyring, row, f) for f in fields if getattr(row, f"{f}_encrypted") is not None}
            for field, plaintext in plaintexts.items():
                seal_field(keyring, row, field, plaintext)
            row.key_id = keyring.primary_key_id
        changed += len(rows)
        progress(model.__tablename__, len(rows))
    session.flush()
    return changed
