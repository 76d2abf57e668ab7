"""Run one step: claim it, render and run its node outside any transaction, record the outcome.

The node (and the rendering of its config) runs on the engine's thread pool so that this
thread can renew the step's lease while it runs and give up on it after the node's
per-attempt timeout (a hung node's late result is discarded: its attempt is no longer the
step's).
"""
from __future__ import annotations

import logging
import time
import traceback
import uuid
from concurrent.futures import Future, wait
from typing import Any

from orchestrator import metrics
from orchestrator.engine.core import Claim, ConfigFailed, Engine
from orchestrator.nodes.base import NodeError, NodeType
from orchestrator.nodes.registry import get_node_type

log = logging.getLogger(__name__)


class _LeaseLost(Exception):
    pass


class _AttemptTimedOut(Exception):
    pass


def _wait(engine: Engine, claim: Claim, future: Future) -> None:
    """Block until the node finishes or times out, renewing the lease meanwhile."""
    interval = max(engine.settings.lease_seconds / 3, 0.05)
    deadline = time.monotonic() + claim.node.timeout_seconds
    while not wait([future], timeout=max(0.0, min(interval, deadline - time.monotonic()))).done:
        if time.monotonic() >= deadline:
            raise _AttemptTimedOut(f"timed out after {claim.node.timeout_seconds:g}s")
        if not engine.renew_lease(claim):
            log.info("step %s attempt %s lost its lease; abandoning it", claim.node.id, claim.attempt)
            raise _LeaseLost


def _attempt(engine: Engine, claim: Claim, node_type: NodeType) -> Any:
    return node_type.run(engine.prepare(claim))


def run_step(engine: Engine, step_id: uuid.UUID, execution_id: uuid.UUID, worker: str,
             task_id: str | None = None) -> str | None:
    """Run the step's attempt; returns its error when the attempt failed (already recorded, and
    retried by the engine if its policy says so)."""
    claim = engine.claim(step_id, execution_id, worker, task_id)
    if claim is None:
        return None
    metrics.attempt_started(claim.node.type)
    started = time.monotonic()
    node_type = get_node_type(claim.node.type)()
    future = engine.pool.submit(_attempt, engine, claim, node_type)
    try:
        _wait(engine, claim, future)
        result = future.result(timeout=0)
    except _LeaseLost:
        return None
    except ConfigFailed as exc:
        return _failed(engine, claim, started, str(exc), None, retryable=False)
    except _AttemptTimedOut as exc:
        return _failed(engine, claim, started, str(exc), None)
    except NodeError as exc:
        return _failed(engine, claim, started, str(exc), None, retryable=exc.retryable)
    except Exception as exc:  # a bug or an unexpected error in the node: shown with its traceback
        return _failed(engine, claim, started, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    error = engine.record(claim, node_type, result)
    metrics.attempt_ended(claim.node.type, time.monotonic() - started, failed=error is not None)
    return error


def _failed(engine: Engine, claim: Claim, started: float, error: str, trace: str | None,
            retryable: bool = True) -> str:
    will_retry, shown = engine.fail(claim, error, trace, retryable)
    metrics.attempt_ended(claim.node.type, time.monotonic() - started, failed=True, will_retry=will_retry)
    return shown
