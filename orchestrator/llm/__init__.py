"""The LLM layer: model resolution, the protocol clients, the ``llm`` node's
turns, accounting and redaction. ``account`` is what the engine runs in a step's commit."""
from orchestrator.llm.accounting import account

__all__ = ["account"]
