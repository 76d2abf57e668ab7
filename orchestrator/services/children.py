"""Child executions (DESIGN section 10), as transition hooks of the engine.

``start_children`` takes a node's ``Suspend(child=...)`` or ``Suspend(children=...)`` (a
map): in the parent's transaction it starts the first children (trigger ``subworkflow``,
``parent_execution_id``, ``parent_step_id``) and parks the step in ``waiting``, holding no
worker. The runs still to start are kept sealed in the step's checkpoint.

``finish_child`` runs in the transaction that ends a child: it locks the parent (child first,
then parent: the only order these locks are taken in) and starts the next child of a map,
or completes the parent step once every child completed, or fails it when a child did not.
A node that suspended with ``state`` (an agent calling a workflow tool) takes the outcome up
itself instead: its next turn runs with ``child`` (or, for a map, ``children``) in its state,
whether the children completed or not.

``cancel_children`` cancels a parent's open children after the parent ended; the sweeper
cancels any it missed (``engine.maintenance``).
"""
from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select

from orchestrator.db import Execution, User
from orchestrator.engine import Transaction, cancel
from orchestrator.engine.control import NotAllowed, Unknown
from orchestrator.engine.sql import Row
from orchestrator.engine.transaction import RESUME
from orchestrator.nodes.base import ChildRun, Suspend
from orchestrator.services import executions, workflows
from orchestrator.services.errors import DomainError
from orchestrator.states import EXECUTION_ACTIVE, ExecutionStatus as E, StepStatus as S, Trigger

log = logging.getLogger(__name__)


def start_children(txn: Transaction, step: Row, suspend: Suspend) -> bool:
    runs = suspend.children if suspend.children else (suspend.child,) if suspend.child else ()
    if not runs:
        return False
    settings = txn.engine.settings
    single = suspend.child is not None and not suspend.children
    if txn.execution.depth >= settings.max_child_depth:
        txn.fail_attempt(step, f"child executions may nest {settings.max_child_depth} deep "
                               "(ORCHESTRATOR_MAX_CHILD_DEPTH); this one would be deeper", retryable=False)
        return True
    if len(runs) > settings.max_map_items:
        txn.fail_attempt(step, f"a map over {len(runs)} items is over the limit of {settings.max_map_items} "
                               "(ORCHESTRATOR_MAX_MAP_ITEMS)", retryable=False)
        return True
    owner = txn.session.get_one(User, txn.execution.owner_id)
    try:
        planned = [_plan(txn, owner, run) for run in runs]
    except DomainError as exc:
        txn.fail_attempt(step, f"subworkflow: {exc.message}", retryable=False)
        return True
    turn = step.turn + 1
    txn.save_checkpoint(step, turn, {"runs": planned, "max_concurrency": suspend.max_concurrency,
                                     "single": single, **({} if suspend.state is None else {RESUME: suspend.state})})
    txn.wait(step, f"waiting for {len(planned)} child execution(s)", turn=turn,
             data={"children": len(planned), "max_concurrency": suspend.max_concurrency})
    try:
        for index in range(min(suspend.max_concurrency, len(planned))):
            _start(txn, owner, step, planned[index], index)
    except DomainError as exc:
        txn.fail_attempt(step, f"subworkflow: {exc.message}", retryable=False)
    return True


def _plan(txn: Transaction, owner: User, run: ChildRun) -> dict[str, Any]:
    workflow = workflows.find_workflow(txn.session, owner, run.workflow_id)
    return {"workflow_id": str(workflow.id), "version": run.version, "input": run.input}


def _start(txn: Transaction, owner: User, step: Row, run: dict[str, Any], index: int) -> Execution:
    """A child in the parent's transaction; its first messages go out with the parent's."""
    parent = executions.Parent(txn.execution.id, step.id, txn.execution.depth, index)
    return executions.create(txn.engine, txn.session, txn.outbox, owner, uuid.UUID(run["workflow_id"]), run["input"],
                             version=run["version"], trigger=Trigger.SUBWORKFLOW, parent=parent)


def finish_child(txn: Transaction) -> None:
    child = txn.execution
    if child.parent_step_id is None:
        return
    parent = txn.related(child.parent_execution_id)
    step = parent.step(child.parent_step_id) if parent is not None else None
    if parent is None or step is None or step.status != S.WAITING:
        return          # the parent moved on (cancelled, timed out): nothing waits for this child
    state = parent.load_checkpoint(step)
    siblings = {row.id: {"execution_id": str(row.id), "status": row.status, "output": row.output,
                         "error": row.error_message, "index": (row.meta or {}).get("map_index", 0)}
                for row in txn.conn.execute(select(
                    Execution.id, Execution.status, Execution.output, Execution.error_message, Execution.meta.label("meta"))
                    .where(Execution.parent_step_id == step.id))}
    siblings[child.id].update(status=child.status, output=child.values.get("output"), error=child.error_message)
    if child.status != E.COMPLETED:
        open_ = [uuid.UUID(s["execution_id"]) for s in siblings.values() if E(s["status"]) in EXECUTION_ACTIVE]
        failed = {key: siblings[child.id][key] for key in ("execution_id", "status", "output", "error")}
        if not (RESUME in state and parent.take_up(step, {_outcome_key(state): failed},
                                                   f"child execution {child.id} {child.status}; the node goes on")):
            parent.fail_attempt(step, f"child execution {child.id} {child.status}: "
                                      f"{child.error_message or 'no error'}", retryable=False)
        if open_:
            parent.outbox.callbacks.append(lambda: _cancel_all(txn.engine, open_))
        return
    runs = state["runs"]
    open_count = sum(E(s["status"]) in EXECUTION_ACTIVE for s in siblings.values())
    started = len(siblings)
    if started < len(runs):
        owner = txn.session.get_one(User, parent.execution.owner_id)
        try:
            while started < len(runs) and open_count < state["max_concurrency"]:
                _start(parent, owner, step, runs[started], started)
                started += 1
                open_count += 1
        except DomainError as exc:
            parent.fail_attempt(step, f"subworkflow: {exc.message}", retryable=False)
        return
    if open_count:
        return
    items = sorted(siblings.values(), key=lambda s: s["index"])
    results = [{"execution_id": s["execution_id"], "status": s["status"], "output": s["output"]} for s in items]
    output = results[0] if state["single"] else {"items": results, "outputs": [s["output"] for s in items]}
    if RESUME in state and parent.take_up(step, {_outcome_key(state): output},
                                          f"{len(results)} child execution(s) completed; the node goes on"):
        return
    parent.complete(step, output, f"{len(results)} child execution(s) completed")
    parent.advance(after=step.node_id)


def _outcome_key(state: dict[str, Any]) -> str:
    """Where a node that takes its children's outcome up itself finds it in its next state."""
    return "child" if state["single"] else "children"


def cancel_children(txn: Transaction) -> None:
    """A parent that did not complete cancels its open children, after its own commit."""
    if txn.execution.status == E.COMPLETED:
        return
    open_ = list(txn.conn.execute(select(Execution.id).where(
        Execution.parent_execution_id == txn.execution.id,
        Execution.status.in_([s.value for s in EXECUTION_ACTIVE]))).scalars())
    if open_:
        txn.outbox.callbacks.append(lambda: _cancel_all(txn.engine, open_))


def _cancel_all(engine, execution_ids: list[uuid.UUID]) -> None:
    for execution_id in execution_ids:
        try:
            cancel(engine, execution_id)
        except (NotAllowed, Unknown):
            pass        # ended meanwhile
