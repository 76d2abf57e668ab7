"""One engine transaction over one execution: the public API every caller uses.

A ``Transaction`` is opened by ``Engine.execution(id)``, which (1) locks the execution row
(``SELECT ... FOR UPDATE``; SQLite serialises writers with ``BEGIN IMMEDIATE``), (2) hands
the caller this object to read steps and make transitions, and (3) writes everything the
transaction changed in one go (``sql.Statements.write``), commits, and only then sends the
outbox. Steps read after the lock are current: every writer of a step holds that lock.

The operations are those of DESIGN section 3: ``dispatch`` a queued step, ``complete`` a
step, ``fail_attempt`` (retry or ``on_error``), ``suspend`` it, ``continue_turn``,
``advance`` the DAG after a step finished, and ``end`` the execution. Nothing else writes a
status column; ``transitions`` says which moves are allowed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Iterable

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing, Sealed
from orchestrator.db import A2AMessage, HumanApproval, SharedContext, StepCall, StepCheckpoint
from orchestrator.db.types import utcnow
from orchestrator.definitions import WorkflowDefinition
from orchestrator.engine.dispatch import Dispatcher, StepMessage
from orchestrator.engine.graph import ConditionFailed, StepState, decide, sink_outputs, template_variables
from orchestrator.engine.sql import Row, StepWrite
from orchestrator.engine.transitions import check_execution_move, check_step_move, step_values
from orchestrator.nodes.base import AgentMessage, CallRecord
from orchestrator.states import (
    EXECUTION_ACTIVE, EXECUTION_TERMINAL, STEP_OPEN, ApprovalStatus, ExecutionStatus as E, OnError,
    StepStatus as S,
)
from orchestrator.templating import TemplateError, referenced_names, render_value

if TYPE_CHECKING:
    from orchestrator.engine.core import Engine

log = logging.getLogger(__name__)

# The checkpoint key of a node's state parked for what it takes up itself (see ``take_up``).
RESUME = "__resume__"
# A message may arrive a little before its step is due (clocks, countdown rounding).
EARLY_TOLERANCE = timedelta(milliseconds=500)
# A retry or a turn due sooner than this is sent now with a broker countdown; a later one is
# left to the sweeper (no countdown may approach the broker's visibility timeout).
SHORT_WAIT = timedelta(seconds=10)


@dataclass
class Outbox:
    """The step messages to send, and what to do once the transaction has committed.

    The step messages may leave before the commit (``send``, see ``Engine.execution``)
    unless ``new_rows``: they name steps this transaction created, which no other transaction
    can see, or wait for, until the commit is done."""

    messages: list[StepMessage] = field(default_factory=list)
    revoke: list[str] = field(default_factory=list)
    callbacks: list[Callable[[], None]] = field(default_factory=list)
    new_rows: bool = False

    def send(self, dispatcher: Dispatcher) -> None:
        """The step messages, once; never raises."""
        messages, self.messages = self.messages, []
        if messages:
            self._run(lambda: dispatcher.send(messages))

    def flush(self, dispatcher: Dispatcher) -> None:
        """Never raises: what is committed stands, and the sweeper re-sends what was not sent."""
        if self.revoke:
            self._run(lambda: dispatcher.revoke(self.revoke))
        self.send(dispatcher)
        for callback in self.callbacks:
            self._run(callback)

    @staticmethod
    def _run(action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            log.exception("sending step messages or an after-commit action failed; the sweeper re-sends "
                          "unsent step messages")


class Transaction:
    def __init__(self, engine: "Engine", conn: Connection, execution: Row, outbox: Outbox | None = None,
                 steps: dict[str, Row] | None = None, open_steps: int | None = None):
        self.engine = engine
        self.conn = conn
        self.execution = execution
        self.outbox = outbox or Outbox()
        self.now = utcnow()
        self._definition: WorkflowDefinition | None = None
        self._steps: dict[str, Row] = steps or {}
        self._all_read = False
        self._with_output: set[str] = set()
        self._open_in_db = open_steps
        self._open_delta = 0
        self._writes: dict[uuid.UUID, StepWrite] = {}
        self._events: list[dict[str, Any]] = []
        self._session: Session | None = None
        self._related: dict[uuid.UUID, Transaction] = {}

    # -- what the transaction reads ------------------------------------------------------

    @property
    def definition(self) -> WorkflowDefinition:
        if self._definition is None:
            self._definition = self.engine.definitions.get(self.conn, self.execution.workflow_version_id)
        return self._definition

    @property
    def session(self) -> Session:
        """An ORM session on this transaction's connection, for hooks that work with models."""
        if self._session is None:
            self._session = Session(bind=self.conn, expire_on_commit=False)
        return self._session

    def steps(self, node_ids: Iterable[str] | None = None, *, with_output: bool = False) -> dict[str, Row]:
        """Steps by node id (all, or these), as changed so far by this transaction."""
        wanted = None if node_ids is None else set(node_ids)
        if wanted is None:
            missing = None if not self._all_read or (with_output and len(self._with_output) < len(self._steps)) \
                else set()
        else:
            missing = {n for n in wanted if n not in self._steps or (with_output and n not in self._with_output)}
        if missing is None or missing:
            rows, open_count = self.engine.sql.steps(self.conn, self.execution.id, missing, with_output)
            self._open_in_db = open_count
            for node_id, row in rows.items():
                mine = self._steps.get(node_id)
                if mine is None:
                    self._steps[node_id] = row
                elif with_output:            # keep this transaction's changes; add the output read
                    mine.values.setdefault("output", row.values["output"])
                if with_output:
                    self._with_output.add(node_id)
            if missing is None:
                self._all_read = True
        if wanted is None:
            return dict(self._steps)
        return {n: self._steps[n] for n in wanted if n in self._steps}

    def related(self, execution_id: uuid.UUID) -> "Transaction | None":
        """Another execution (a child's parent) locked in this same transaction, sharing its
        outbox and written with it. Locks are taken child first, then parent, never the
        other way round (a parent cancels its children after its own commit)."""
        txn = self._related.get(execution_id)
        if txn is None:
            row = self.engine.sql.lock_execution(self.conn, execution_id)
            if row is None:
                return None
            txn = self._related[execution_id] = Transaction(self.engine, self.conn, row, self.outbox)
            txn._session = self.session
        return txn

    def step(self, step_id: uuid.UUID) -> Row | None:
        for row in self._steps.values():
            if row.id == step_id:
                return row
        row = self.engine.sql.step_by_id(self.conn, step_id)
        if row is None or row.execution_id != self.execution.id:
            return None
        return self._steps.setdefault(row.node_id, row)

    def open_steps(self) -> int:
        if self._open_in_db is None:
            _, self._open_in_db = self.engine.sql.steps(self.conn, self.execution.id, ())
        return self._open_in_db + self._open_delta

    def variables(self, names: frozenset[str]) -> dict[str, Any]:
        """What templates see; each part is read only when a template names it."""
        states = {}
        if "nodes" in names:
            states = {n: StepState(S(r.status), r.values.get("output")) for n, r in
                      self.steps(with_output=True).items()}
        execution_input = self.engine.sql.execution_fields(self.conn, self.execution.id, "input")["input"] \
            if "input" in names else None
        contexts = dict(self.conn.execute(
            select(SharedContext.namespace, SharedContext.data).where(SharedContext.execution_id == self.execution.id)
        ).all()) if "context" in names else {}
        return template_variables(states, execution_meta(self.execution), execution_input, contexts)

    # -- transitions ---------------------------------------------------------------------

    def event(self, event_type: str, message: str | None = None, *, node_id: str | None = None,
              attempt: int | None = None, data: Any = None) -> None:
        seq = self.execution.event_seq + 1
        self.execution.set(event_seq=seq)
        self._events.append({"id": uuid.uuid4(), "execution_id": self.execution.id, "seq": seq,
                             "event_type": event_type, "node_id": node_id, "attempt": attempt,
                             "message": message, "data": data, "created_at": self.now})

    def move_execution(self, to: E, message: str | None = None, **fields: Any) -> None:
        current = E(self.execution.status)
        check_execution_move(self.execution.id, current, to)
        values: dict[str, Any] = {"status": to.value, **fields}
        if to is E.RUNNING and self.execution.started_at is None:
            values["started_at"] = self.now
        if to in EXECUTION_TERMINAL:
            started = self.execution.started_at or self.execution.created_at
            values.update(completed_at=self.now, duration_ms=max(0, int((self.now - started).total_seconds() * 1000)))
        elif current in EXECUTION_TERMINAL:
            values.update(completed_at=None, duration_ms=None)
        self.execution.set(**values)
        self.event(f"execution_{to.value}", message)
        if to in EXECUTION_TERMINAL:
            for hook in self.engine.hooks.execution_ended:
                hook(self)

    def move_step(self, step: Row, to: S, message: str | None = None, *, data: Any = None, **fields: Any) -> None:
        current = S(step.status)
        check_step_move(self.execution.id, step.node_id, current, to)
        values = step_values(step, to, self.now)
        values.update(fields, updated_at=self.now)
        write = self._writes.get(step.id)
        if write is None:
            write = self._writes[step.id] = StepWrite(step.id, step.status, step.attempt)
        write.values.update(values)
        step.values.update(values)
        self._open_delta += (to in STEP_OPEN) - (current in STEP_OPEN)
        self.event(f"step_{to.value}", message, node_id=step.node_id, attempt=step.attempt, data=data)

    def dispatch(self, step: Row, not_before: datetime | None = None) -> None:
        """Send a queued step's message with this transaction's outbox: now, with a countdown
        when it is due soon, or (due later, or the execution not running) leave it to the
        sweeper."""
        due_in = (not_before - self.now) if not_before else timedelta(0)
        if self.execution.status not in (E.PENDING, E.RUNNING) or due_in > SHORT_WAIT:
            self._write_fields(step, dispatched_at=None)
            return
        self._write_fields(step, dispatched_at=self.now)
        node = self.definition.nodes[step.node_id]
        self.outbox.messages.append(StepMessage(step.id, self.execution.id, step.node_id, step.node_type,
                                                step.attempt, node.timeout_seconds,
                                                max(0.0, due_in.total_seconds()),
                                                version_id=self.execution.workflow_version_id))

    def _write_fields(self, step: Row, **fields: Any) -> None:
        """Columns that are not a transition (the outbox bookkeeping)."""
        write = self._writes.get(step.id)
        if write is None:
            write = self._writes[step.id] = StepWrite(step.id, step.status, step.attempt)
        write.values.update(fields, updated_at=self.now)
        step.values.update(fields)

    # -- operations ----------------------------------------------------------------------

    def queue(self, step: Row, message: str | None = None, *, not_before: datetime | None = None,
              **fields: Any) -> None:
        self.move_step(step, S.QUEUED, message, not_before=not_before, **fields)
        self.dispatch(step, not_before)

    def complete(self, step: Row, output: Any, message: str | None = None, **fields: Any) -> None:
        """The step completed with ``output``; its ``context_write`` is applied with it (a value
        that does not render fails the step instead, without retry)."""
        spec = self.definition.nodes[step.node_id].context_write
        if spec is not None:
            variables = self.variables(referenced_names(spec["value"]))
            try:
                value = render_value(spec["value"], {**variables, "output": output})
            except TemplateError as exc:
                self.fail_attempt(step, f"context_write of node {step.node_id}: {exc}", retryable=False, **fields)
                return
            self.write_context(spec["namespace"], value, spec.get("mode", "merge"))
        self.move_step(step, S.COMPLETED, message, output=output, error_message=None, error_traceback=None, **fields)

    def fail_attempt(self, step: Row, message: str, traceback: str | None = None, *, retryable: bool = True,
                     **fields: Any) -> None:
        """An attempt failed: retry with backoff, or apply the node's ``on_error`` policy."""
        node = self.definition.nodes[step.node_id]
        failed = step.failed_attempts + 1
        if retryable and failed < node.retry.max_attempts:
            delay = node.retry.backoff_for(failed)
            self.restart_turns(step)
            self.queue(step, f"attempt {step.attempt} failed: {message}; retry in {delay:g}s",
                       not_before=self.now + timedelta(seconds=delay), attempt=step.attempt + 1, turn=0,
                       failed_attempts=failed, error_message=message, error_traceback=traceback, **fields)
            return
        policy = OnError(node.on_error)
        if policy is OnError.DEFAULT:       # completed, but no context_write: the node did not produce this
            self.move_step(step, S.COMPLETED, f"failed: {message}; default output used", output=node.default_output,
                           failed_attempts=failed, error_message=message, error_traceback=traceback, **fields)
        else:
            self.move_step(step, S.FAILED, message, failed_attempts=failed, error_message=message,
                           error_traceback=traceback, **fields)
        if policy is OnError.FAIL:
            self.end(E.FAILED, f"node {node.id} failed: {message}", traceback)
        else:
            self.advance(after=step.node_id)

    def wait(self, step: Row, message: str, *, until: datetime | None = None, data: Any = None,
             **fields: Any) -> None:
        """running -> waiting; a wait that ends ``until`` soon is woken by a message sent with a
        countdown, a longer one by the sweeper."""
        self.move_step(step, S.WAITING, message, data=data, lease_expires_at=None, not_before=until, **fields)
        if until is not None and until - self.now <= SHORT_WAIT:
            node = self.definition.nodes[step.node_id]
            self.outbox.messages.append(StepMessage(
                step.id, self.execution.id, step.node_id, step.node_type, step.attempt, node.timeout_seconds,
                max(0.0, (until - self.now).total_seconds()), wake=True))

    def wake(self, step: Row) -> None:
        """A waiting step whose time has come (a delay) completes with the output it parked."""
        if step.status != S.WAITING or step.not_before is None or step.not_before > self.now + EARLY_TOLERANCE:
            return
        output = self.steps([step.node_id], with_output=True)[step.node_id].values.get("output")
        self.complete(step, output, "delay elapsed")
        self.advance(after=step.node_id)

    def request_approval(self, step: Row, expires_at: datetime, approver_email: str | None,
                         details: dict[str, Any] | None = None, resume: Any = None, **fields: Any) -> str:
        """Park the step for a human decision; returns the one-time token (stored hashed). With
        ``resume`` (the node's state), the decision is handed back to the node as its next turn."""
        token, approval_id = secrets.token_urlsafe(32), uuid.uuid4()
        self.conn.execute(insert(HumanApproval), {
            "id": approval_id, "execution_id": self.execution.id, "step_id": step.id,
            "token_hash": hash_token(token), "approver_email": approver_email, "expires_at": expires_at,
            "status": ApprovalStatus.PENDING.value, "created_at": self.now, "details": details})
        if resume is not None:
            fields["turn"] = step.turn + 1
            self.save_checkpoint(step, step.turn + 1, {RESUME: resume})
        self.wait(step, "waiting for a human decision", data={"expires_at": expires_at.isoformat(),
                                                               "details": details}, **fields)
        for hook in self.engine.hooks.approval_requested:
            hook(self, step, approval_id)
        return token

    def take_up(self, step: Row, outcome: dict[str, Any], message: str) -> bool:
        """What a waiting node asked to take up itself (a human decision, its children's
        results): waiting -> queued as its next turn, ``outcome`` added to the state it parked
        (``{RESUME: state}`` in the checkpoint). False when the node did not ask for that."""
        if not step.turn:
            return False
        current = self.conn.execute(select(StepCheckpoint.id).where(
            StepCheckpoint.step_id == step.id, StepCheckpoint.turn == step.turn)).scalar()
        state = self.load_checkpoint(step) if current is not None else None
        if not isinstance(state, dict) or RESUME not in state:
            return False
        self.conn.execute(delete(StepCheckpoint).where(StepCheckpoint.id == current))
        self.save_checkpoint(step, step.turn, {**state[RESUME], **outcome})
        self.queue(step, message)
        return True

    def save_checkpoint(self, step: Row, turn: int, state: Any) -> None:
        """``state`` (JSON) sealed for ``turn`` of the step: AES-GCM, the step and turn bound in."""
        sealed = self.engine.keyring.encrypt(json.dumps(state).encode(), checkpoint_aad(step.id, turn))
        self.conn.execute(insert(StepCheckpoint), {
            "id": uuid.uuid4(), "step_id": step.id, "attempt": step.attempt, "turn": turn,
            "state_encrypted": sealed.ciphertext, "state_iv": sealed.nonce, "key_id": sealed.key_id,
            "created_at": self.now})

    def load_checkpoint(self, step: Row) -> Any:
        return open_checkpoint(self.engine.keyring, self.conn, step.id, step.turn)

    def restart_turns(self, step: Row) -> None:
        """A new attempt starts from turn 0: the checkpoints of the failed one go."""
        if step.turn:
            self.conn.execute(delete(StepCheckpoint).where(StepCheckpoint.step_id == step.id))

    def continue_turn(self, step: Row, state: Any, not_before: datetime | None, message: str = "",
                      **fields: Any) -> None:
        """running -> queued, same attempt, turn + 1, the state sealed for the next turn. A worker
        lost during the next turn is recovered at that turn (a new attempt, the same turn)."""
        turn = step.turn + 1
        self.save_checkpoint(step, turn, state)
        self.move_step(step, S.QUEUED, message or f"turn {turn}", data={"turn": turn}, turn=turn,
                       not_before=not_before, **fields)
        self._events[-1]["event_type"] = "step_turn"
        self.dispatch(step, not_before)

    def record(self, step: Row, calls: list[CallRecord], messages: list[AgentMessage]) -> None:
        """What the node recorded for people during this turn, written with it."""
        if calls:       # one record per turn: (step, attempt, turn, seq) is unique
            self.conn.execute(insert(StepCall), [{
                "id": c.id, "execution_id": self.execution.id, "step_id": step.id, "node_id": step.node_id,
                "attempt": step.attempt, "turn": step.turn, "seq": i, "kind": c.kind, "target": c.target,
                "status": c.status, "request": c.request, "response": c.response, "usage": c.usage,
                "cost": c.cost, "latency_ms": c.latency_ms, "error": c.error, "metadata": c.meta,
                "created_at": self.now} for i, c in enumerate(calls, 1)])
            tokens = sum(int((c.usage or {}).get("total_tokens") or 0) for c in calls)
            costs = [c.cost for c in calls if c.cost is not None]
            changes: dict[str, Any] = {"total_tokens": self.execution.total_tokens + tokens}
            if costs:
                changes["total_cost"] = (self.execution.total_cost or 0) + sum(map(_decimal, costs))
            self.execution.set(**changes)
        if messages:
            self.conn.execute(insert(A2AMessage), [{
                "id": uuid.uuid4(), "execution_id": self.execution.id, "from_node": m.from_node or step.node_id,
                "to_node": m.to_node, "message_type": m.message_type, "content": m.content,
                "created_at": self.now + timedelta(microseconds=i)} for i, m in enumerate(messages)])

    def write_context(self, namespace: str, value: Any, mode: str) -> None:
        """Shared context ``namespace`` of this execution: merged into (dicts) or replaced."""
        current = self.conn.execute(select(SharedContext.id, SharedContext.data).where(
            SharedContext.execution_id == self.execution.id, SharedContext.namespace == namespace)).one_or_none()
        if current is None:
            self.conn.execute(insert(SharedContext), {"id": uuid.uuid4(), "execution_id": self.execution.id,
                                                      "namespace": namespace, "data": value,
                                                      "created_at": self.now, "updated_at": self.now})
            return
        data = value
        if mode == "merge" and isinstance(current.data, dict) and isinstance(value, dict):
            data = {**current.data, **value}
        self.conn.execute(update(SharedContext).where(SharedContext.id == current.id)
                          .values(data=data, updated_at=self.now))

    def advance(self, after: str | Iterable[str] | None = None) -> None:
        """Queue or skip what became decidable after ``after`` finished (None: look at every
        node); finish the execution when no step is open. Reads only the nodes downstream of
        ``after`` and their sources, unless a condition needs every node's output."""
        if E(self.execution.status) not in EXECUTION_ACTIVE:
            return
        definition = self.definition
        plan = self.engine.definitions.plan(definition)
        frontier = None if after is None else plan.successors_of([after] if isinstance(after, str) else after)
        while frontier is None or frontier:
            if frontier is None or plan.conditions_read_nodes:
                rows = self.steps(with_output=plan.conditions_read_nodes)
            else:
                rows = self.steps(frontier | plan.sources_of(frontier))
            states = {n: StepState(S(r.status), r.values.get("output")) for n, r in rows.items()}
            variables = self.variables(plan.condition_names) if plan.has_conditions else \
                template_variables(states, {}, None, {})
            candidates = set(rows) if frontier is None else frontier
            try:
                decisions = decide(plan, states, variables, candidates)
            except ConditionFailed as exc:
                self.end(E.FAILED, str(exc))
                return
            skipped = []
            for node_id, decision in decisions.items():
                step = rows[node_id]
                if decision is S.QUEUED:
                    self.queue(step)
                else:
                    self.move_step(step, decision)
                    skipped.append(node_id)
            frontier = plan.successors_of(skipped)
        if self.execution.status == E.PAUSED or self.open_steps() > 0:
            return
        self._finish(plan)

    def _finish(self, plan) -> None:
        definition = self.definition
        if definition.output is None:
            rows = self.steps(definition.sinks(), with_output=True)
            states = {n: StepState(S(r.status), r.values.get("output")) for n, r in rows.items()}
            self.move_execution(E.COMPLETED, output=sink_outputs(definition, states))
            return
        try:
            output = render_value(definition.output, self.variables(plan.output_names))
        except TemplateError as exc:
            self.end(E.FAILED, f"output: {exc}")
            return
        self.move_execution(E.COMPLETED, output=output)

    def end(self, status: E, message: str, traceback: str | None = None) -> None:
        """Fail, cancel or time out: open steps are cancelled, running tasks revoked after commit,
        pending approvals expired."""
        for step in self.steps().values():
            if S(step.status) not in STEP_OPEN:
                continue
            if step.status == S.RUNNING and step.celery_task_id:
                self.outbox.revoke.append(step.celery_task_id)
            self.move_step(step, S.CANCELLED, f"execution {status.value}")
        self.conn.execute(update(HumanApproval).where(
            HumanApproval.execution_id == self.execution.id, HumanApproval.status == ApprovalStatus.PENDING.value,
        ).values(status=ApprovalStatus.EXPIRED.value, decided_at=self.now))
        self.move_execution(status, message, error_message=message, error_traceback=traceback)

    # -- commit ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what this transaction changed (called once, before the commit)."""
        for hook in self.engine.hooks.committing:
            hook(self)
        if self._session is not None:
            self._session.flush()
        if self.execution.changes:
            self.execution.set(updated_at=self.now)
        self.engine.sql.write(self.conn, self.execution, list(self._writes.values()), self._events)
        for related in self._related.values():
            related.flush()


def execution_meta(execution: Any) -> dict[str, Any]:
    return {"id": str(execution.id), "workflow_id": str(execution.workflow_id), "version": execution.version,
            "trigger": execution.trigger}


def checkpoint_aad(step_id: uuid.UUID, turn: int) -> bytes:
    return f"step_checkpoints:{step_id}:{turn}".encode()


def open_checkpoint(keyring: KeyRing, conn: Connection, step_id: uuid.UUID, turn: int) -> Any:
    row = conn.execute(select(StepCheckpoint.state_encrypted, StepCheckpoint.state_iv, StepCheckpoint.key_id)
                       .where(StepCheckpoint.step_id == step_id, StepCheckpoint.turn == turn)).one()
    return json.loads(keyring.decrypt(Sealed(row.state_encrypted, row.state_iv, row.key_id),
                                      checkpoint_aad(step_id, turn), f"checkpoint {turn} of step {step_id}"))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))
