"""The state machine of executions and steps; all transitions live here and nowhere else.

``Engine.execution(id)`` gives the one public API per transaction (``Transaction``);
``control`` and ``maintenance`` are built on it, ``runner`` runs a step on a worker.
"""
from orchestrator.engine.control import NotAllowed, Unknown, cancel, decide_approval, pause, resume, retry
from orchestrator.engine.core import Claim, Engine
from orchestrator.engine.dispatch import Dispatcher, StepMessage
from orchestrator.engine.hooks import Hooks
from orchestrator.engine.maintenance import next_due, sweep
from orchestrator.engine.runner import run_step
from orchestrator.engine.transaction import Outbox, Transaction

__all__ = [
    "Claim", "Dispatcher", "Engine", "Hooks", "NotAllowed", "Outbox", "StepMessage", "Transaction", "Unknown",
    "cancel", "decide_approval", "next_due", "pause", "resume", "retry", "run_step", "sweep",
]
