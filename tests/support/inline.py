"""An in-process dispatcher: the engine's messages are run by the test itself, in order.

Like a broker, it holds a message sent with a countdown until the countdown has passed.
"""
from __future__ import annotations

import time
from collections import deque

from orchestrator.engine import Engine, StepMessage, run_step


class InlineDispatcher:
    def __init__(self) -> None:
        self.queue: deque[StepMessage] = deque()
        self.due_at: dict[int, float] = {}
        self.sent: list[StepMessage] = []
        self.revoked: list[str] = []

    def send(self, messages: list[StepMessage]) -> None:
        for message in messages:
            self.due_at[id(message)] = time.monotonic() + message.countdown
        self.queue.extend(messages)
        self.sent.extend(messages)

    def revoke(self, task_ids: list[str]) -> None:
        self.revoked.extend(task_ids)

    def drain(self, engine: Engine, limit: int = 1000) -> int:
        """Run the due messages (and those they send) in order; returns how many ran."""
        ran = 0
        while ran < limit:
            due = next((m for m in self.queue if self.due_at[id(m)] <= time.monotonic()), None)
            if due is None:
                return ran
            self.queue.remove(due)
            if due.wake:
                engine.wake(due.step_id, due.execution_id)
            else:
                run_step(engine, due.step_id, due.execution_id, worker="inline", task_id=f"task-{ran}",
                         node_id=due.node_id, version_id=due.version_id)
            ran += 1
        return ran
