"""Cron schedules of workflows (seed 001's ``scheduled_workflows``).

``cron`` evaluates expressions in a time zone, ``service`` holds the use cases the API calls,
``firing`` is what the beat process runs every tick, and ``bookkeeping`` is what the engine
calls when a scheduled execution ends. Only the last is imported here: the engine imports
this package, so nothing in it may import the engine at import time.
"""
from orchestrator.schedules.bookkeeping import on_execution_finished

__all__ = ["on_execution_finished"]
