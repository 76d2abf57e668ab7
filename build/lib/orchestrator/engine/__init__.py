"""The state machine of executions and steps; all transitions live here and nowhere else."""
from orchestrator.engine.control import NotAllowed, Unknown, cancel, decide_approval, pause, resume, retry
from orchestrator.engine.core import Claim, Engine, Outbox
from orchestrator.engine.dispatch import Dispatcher, StepMessage
from orchestrator.engine.maintenance import sweep
from orchestrator.engine.runner import run_step

__all__ = [
    "Claim", "Dispatcher", "Engine", "NotAllowed", "Outbox", "StepMessage", "Unknown", "cancel",
    "decide_approval", "pause", "resume", "retry", "run_step", "sweep",
]
