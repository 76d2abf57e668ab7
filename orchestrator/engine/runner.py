"""Run one step: claim it, run its node outside any transaction, record the outcome.

The node runs in a helper thread so that this thread can renew the step's lease while it
runs and give up on it after the node's per-attempt timeout (a hung node's late result is
discarded: its attempt is no longer the step's).
"""
from __future__ import annotations

import logging
import time
import traceback
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait

from orchestrator.engine.core import Claim, Engine, FailedClaim
from orchestrator.nodes.base import NodeError
from orchestrator.nodes.registry import get_node_type

log = logging.getLogger(__name__)


# Nodes run on reused threads; a hung node keeps its thread, so the pool is generous.
_pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="node")


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


def run_step(engine: Engine, step_id: uuid.UUID, worker: str, task_id: str | None = None) -> str | None:
    """Run the step's attempt; returns its error when the attempt failed (already recorded)."""
    claim = engine.claim(step_id, worker, task_id)
    if claim is None:
        return None
    if isinstance(claim, FailedClaim):
        return claim.error
    node_type = get_node_type(claim.node.type)()
    future = _pool.submit(node_type.run, engine.context(claim))
    try:
        _wait(engine, claim, future)
        result = future.result(timeout=0)
    except _LeaseLost:
        return None
    except (_AttemptTimedOut, NodeError) as exc:
        engine.fail(claim, str(exc), None)
        return str(exc)
    except Exception as exc:  # a bug or an unexpected error in the node: shown with its traceback
        engine.fail(claim, f"{type(exc).__name__}: {exc}", traceback.format_exc())
        return f"{type(exc).__name__}: {exc}"
    engine.succeed(claim, node_type, result)
    return None
