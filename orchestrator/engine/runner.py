"""Run one step: claim it, render and run its node outside any transaction, record the outcome.

The node (and the rendering of its config) runs on the engine's thread pool so that this
thread can renew the step's lease while it runs and give up on it after the node's
per-attempt timeout (a hung node's late result is discarded: its attempt is no longer the
step's).

A pure node (``NodeType.pure``: no side effects, no I/O) is claimed, run and recorded in one
execution transaction instead: one commit, no lease, no thread. A crash before that commit
leaves the step queued, and running the node again repeats nothing anyone could see.
"""
from __future__ import annotations

import logging
import time
import traceback
import uuid
from concurrent.futures import Future, wait
from typing import Any

from sqlalchemy.exc import DBAPIError

from orchestrator import metrics
from orchestrator.db.transient import transient
from orchestrator.definitions import WorkflowDefinition
from orchestrator.engine.core import Claim, ConfigFailed, Engine
from orchestrator.engine.transaction import Transaction
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


def _failure(exc: Exception) -> tuple[str, str | None, bool]:
    """A failed attempt's message, traceback and whether to retry (call in the except block)."""
    if isinstance(exc, ConfigFailed):
        return str(exc), None, False
    if isinstance(exc, _AttemptTimedOut):
        return str(exc), None, True
    if isinstance(exc, NodeError):
        return str(exc), None, exc.retryable
    # a bug or an unexpected error in the node: shown with its traceback
    return f"{type(exc).__name__}: {exc}", traceback.format_exc(), True


def run_step(engine: Engine, step_id: uuid.UUID, execution_id: uuid.UUID, worker: str,
             task_id: str | None = None, node_id: str | None = None,
             version_id: uuid.UUID | None = None) -> str | None:
    """Run the step's attempt; returns its error when the attempt failed (already recorded, and
    retried by the engine if its policy says so). With the message's ``node_id`` and
    ``version_id``, a pure node runs in one transaction."""
    definition = engine.pure_definition(version_id, node_id) if node_id and version_id else None
    if definition is not None:
        try:
            return _run_pure(engine, definition, step_id, execution_id, node_id, worker, task_id)
        except DBAPIError as exc:
            if transient(exc) is not None:
                raise
            # a write the database refused: the step is still queued; the usual path records why
            log.warning("pure step %s could not be recorded (%s); running it the usual way", node_id, exc.orig)
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
    except Exception as exc:
        if transient(exc) is not None:         # the node's own database access (its variables, credentials)
            will_retry, shown = True, engine.requeue(claim, exc)
        else:
            will_retry, shown = engine.fail(claim, *_failure(exc))
        metrics.attempt_ended(claim.node.type, time.monotonic() - started, failed=True, will_retry=will_retry)
        return shown
    error = engine.record(claim, node_type, result)
    metrics.attempt_ended(claim.node.type, time.monotonic() - started, failed=error is not None)
    return error


def _run_pure(engine: Engine, definition: WorkflowDefinition, step_id: uuid.UUID, execution_id: uuid.UUID,
              node_id: str, worker: str, task_id: str | None) -> str | None:
    node = definition.nodes[node_id]
    node_type = get_node_type(node.type)()
    ended: list[tuple[bool, bool]] = []      # (failed, will retry), counted once the commit stands

    def body(txn: Transaction) -> str | None:
        ended.clear()       # a transaction run again after a lost connection counts once
        claim = engine.claim_in(txn, step_id, definition, node, worker, task_id)
        if claim is None:
            return None
        try:
            result = node_type.run(engine.prepare(claim, txn))
        except DBAPIError:
            raise           # the transaction's own reads: it is run again, or fails, as a whole
        except Exception as exc:
            will_retry, shown = engine.fail_in(txn, claim, *_failure(exc))
            ended.append((True, will_retry))
            return shown
        error = engine.record_in(txn, claim, node_type, result)
        ended.append((error is not None, False))
        return error

    started = time.monotonic()
    error = engine.atomic(execution_id, body, read=engine.neighbourhood(definition, node_id))
    for failed, will_retry in ended[-1:]:
        metrics.attempt_started(node.type)
        metrics.attempt_ended(node.type, time.monotonic() - started, failed=failed, will_retry=will_retry)
    return error
