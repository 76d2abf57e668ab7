"""How the engine rings the doorbell. ``worker/`` implements it with Celery.

A message carries ids only; the worker re-reads the rows. Messages are sent only after
the transaction that made the step ``queued`` has committed.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StepMessage:
    step_id: uuid.UUID
    execution_id: uuid.UUID
    node_id: str
    node_type: str
    attempt: int
    timeout_seconds: float
    countdown: float = 0.0          # seconds until the step is due (a short retry backoff or turn)
    wake: bool = False              # wake the waiting step when due (a short delay) rather than run it
    # The execution's definition version: with it a worker knows the node before reading the
    # step, and runs a pure node in one transaction.
    version_id: uuid.UUID | None = None


class Dispatcher(Protocol):
    def send(self, messages: list[StepMessage]) -> None: ...

    def revoke(self, task_ids: list[str]) -> None: ...
