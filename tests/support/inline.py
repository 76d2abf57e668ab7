"""An in-process dispatcher: the engine's messages are run by the test itself, in order."""
from __future__ import annotations

from collections import deque

from orchestrator.engine import Engine, StepMessage, run_step


class InlineDispatcher:
    def __init__(self) -> None:
        self.queue: deque[StepMessage] = deque()
        self.sent: list[StepMessage] = []
        self.revoked: list[str] = []

    def send(self, messages: list[StepMessage]) -> None:
        self.queue.extend(messages)
        self.sent.extend(messages)

    def revoke(self, task_ids: list[str]) -> None:
        self.revoked.extend(task_ids)

    def drain(self, engine: Engine, limit: int = 1000) -> int:
        ran = 0
        while self.queue and ran < limit:
            message = self.queue.popleft()
            run_step(engine, message.step_id, worker="inline", task_id=f"task-{ran}")
            ran += 1
        return ran
