"""The engine: the object callers hold, and the worker side of a step (claim, run, record).

``Engine.execution(id)`` opens the one public transaction API (``Transaction``) over an
execution. A worker's hop is two database trips: ``claim`` (one conditional statement on
PostgreSQL) and ``record`` (one transaction: lock, read the steps that matter, write once).
Rendering the node's config happens between the two, in the node's thread and inside its
timeout, holding no lock.
"""
from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator, TypeVar

import marshmallow
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.config import Settings
from orchestrator.crypto import KeyRing
from orchestrator.db import Execution, SharedContext
from orchestrator.db.session import session_factory
from orchestrator.db.transient import describe, run_again, transient
from orchestrator.db.types import utcnow
from orchestrator.definitions import NodeSpec, WorkflowDefinition
from orchestrator.engine.dispatch import Dispatcher
from orchestrator.engine.graph import StepState, template_variables
from orchestrator.engine.hooks import Hooks
from orchestrator.engine.sql import StaleStep, statements_for
from orchestrator.engine.store import DefinitionCache
from orchestrator.engine.transaction import EARLY_TOLERANCE, Outbox, Transaction, execution_meta, open_checkpoint
from orchestrator.nodes.base import Continue, NodeContext, NodeType, Suspend
from orchestrator.nodes.registry import config_schema_of, get_node_type
from orchestrator.redaction import redact
from orchestrator.secrets import redact_recorded, redact_values, secret_names, secret_values
from orchestrator.states import ExecutionStatus as E, StepStatus as S
from orchestrator.storable import NotStorable, check_storable
from orchestrator.budget import DEFAULT_BUDGET, RenderBudget
from orchestrator.templating import TemplateError, referenced_names, render_value

log = logging.getLogger(__name__)
T = TypeVar("T")
# A step whose attempts ended this many times in a row without failing (its worker lost: killed
# by the hard time limit, or crashing on it; or a database error that never clears) fails
# instead of being queued again.
MAX_LOST_WORKERS = 5


class ConfigFailed(Exception):
    """The node's config did not render or load: the attempt fails and is not retried."""


@dataclass
class Claim:
    """A step this worker now runs, as the claim read it."""

    step_id: uuid.UUID
    execution_id: uuid.UUID
    node: NodeSpec
    attempt: int
    turn: int
    execution: dict[str, Any]
    definition: WorkflowDefinition
    config: dict[str, Any] | None = None
    context: NodeContext | None = field(default=None, repr=False)
    # The owner's secrets its config names ({{ secrets.NAME }}): masked wherever they would be stored.
    secrets: dict[str, str] = field(default_factory=dict, repr=False)


class Engine:
    def __init__(self, settings: Settings, keyring: KeyRing, dispatcher: Dispatcher,
                 sessions: sessionmaker[Session] | None = None, hooks: Hooks | None = None):
        self.settings = settings
        self.keyring = keyring
        self.dispatcher = dispatcher
        self.sessions = sessions or session_factory(settings)
        self.db = self.sessions.kw["bind"]
        self.sql = statements_for(self.db.dialect.name)
        self.definitions = DefinitionCache(keyring)
        self.hooks = hooks or Hooks()
        self.services: Any = None        # what nodes get as ctx.services (set by the composition root)
        self._pool: ThreadPoolExecutor | None = None
        self.next_prune_at: datetime | None = None

    @property
    def pool(self) -> ThreadPoolExecutor:
        """Nodes run on reused threads; a hung node keeps its thread, so the pool is generous."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="node")
        return self._pool

    # -- transactions ------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[tuple[Session, Outbox]]:
        """A unit of work for services (ORM session and outbox); the outbox is flushed only after
        a successful commit."""
        outbox = Outbox()
        with self.sessions() as session:
            with session.begin():
                yield session, outbox
        outbox.flush(self.dispatcher)

    @contextmanager
    def execution(self, execution_id: uuid.UUID, read: Iterable[str] = ()) -> Iterator[Transaction | None]:
        """The execution locked, as a ``Transaction`` (None if there is no such execution), with
        the steps of the nodes in ``read`` read with the lock; written and committed when the
        block ends, then its outbox sent.

        Where the dialect can, the step messages leave before the writes and the commit, not
        after: each names a step that existed before this transaction, of an execution whose row
        this transaction has locked, so a worker that receives it waits for the lock, which only
        the end of this transaction releases, and reads what was committed (a failed write or
        commit leaves it nothing to claim). The broker's round trip and the worker's pick-up
        then overlap the writes and the commit. Messages for rows this transaction created
        wait for the commit."""
        with self.db.connect() as conn:
            with conn.begin():
                if read:
                    row, steps, open_steps = self.sql.lock_and_read(conn, execution_id, read)
                    txn = None if row is None else Transaction(self, conn, row, steps=steps, open_steps=open_steps)
                else:
                    row = self.sql.lock_execution(conn, execution_id)
                    txn = None if row is None else Transaction(self, conn, row)
                yield txn
                if txn is not None:
                    if not txn.outbox.new_rows and self.sql.sends_before_commit:
                        txn.outbox.send(self.dispatcher)
                    txn.flush()
        if txn is not None:
            txn.outbox.flush(self.dispatcher)

    def atomic(self, execution_id: uuid.UUID, body: Callable[[Transaction], T], read: Iterable[str] = ()) -> T | None:
        """``body`` in one execution transaction. After a transient error (a deadlock, a
        serialization failure, a connection that dropped: pooled connections are not pinged
        first, a restarting server) the whole transaction runs again (``run_again``); ``body``
        must be safe to run again, as every transition is. A step changed meanwhile
        (``StaleStep``) rolls it back: None."""
        def once() -> T | None:
            try:
                with self.execution(execution_id, read) as txn:
                    return None if txn is None else body(txn)
            except StaleStep as exc:
                log.info("transaction on execution %s dropped: %s", execution_id, exc)
                return None
        return run_again(once, f"transaction on execution {execution_id}")

    # -- start ----------------------------------------------------------------------

    def start(self, session: Session, execution: Execution, outbox: Outbox) -> None:
        """Inside the submitting transaction (the execution row flushed): one step row per node,
        the roots queued. Their messages go to ``outbox``."""
        conn = session.connection()
        definition = self.definitions.get(conn, execution.workflow_version_id)
        if definition.timeout_seconds:
            execution.deadline_at = utcnow() + timedelta(seconds=definition.timeout_seconds)
            session.flush()
        now = utcnow()
        self.sql.insert_steps(conn, [{
            "id": uuid.uuid4(), "execution_id": execution.id, "node_id": n.id, "node_type": n.type,
            "status": S.PENDING.value, "attempt": 1, "turn": 0, "failed_attempts": 0,
            "created_at": now, "updated_at": now} for n in definition.nodes.values()])
        outbox.new_rows = True
        row = self.sql.lock_execution(conn, execution.id)
        txn = Transaction(self, conn, row, outbox)
        txn._definition = definition
        txn.event("execution_pending", f"execution of version {execution.version} accepted")
        for step in txn.steps(self.definitions.plan(definition).roots).values():
            txn.queue(step)
        txn.flush()

    # -- the worker side ------------------------------------------------------------

    def claim(self, step_id: uuid.UUID, execution_id: uuid.UUID, worker: str, task_id: str | None) -> Claim | None:
        """queued -> running, or None when this message has nothing to do (logged)."""
        now = utcnow()
        params = {"step_id": step_id, "execution_id": execution_id, "worker": worker, "task_id": task_id,
                  "now": now, "due": now + EARLY_TOLERANCE,
                  "lease": now + timedelta(seconds=self.settings.lease_seconds)}
        row = run_again(lambda: self._claim(params), f"claim of step {step_id}")
        if row is None:
            log.info("step %s: nothing to claim (duplicate, stale, not due, or execution not running)", step_id)
            return None
        definition = self.definitions.cached(row["workflow_version_id"])
        if definition is None:
            with self.db.connect() as conn:
                definition = self.definitions.get(conn, row["workflow_version_id"])
        if row["step_count"] > definition.max_steps:
            self.atomic(execution_id, lambda txn: txn.end(
                E.FAILED, f"max_steps ({definition.max_steps}) exceeded: runaway workflow stopped"))
            return None
        return Claim(step_id, execution_id, definition.nodes[row["node_id"]], row["attempt"], row["turn"], row,
                     definition)

    def pure_definition(self, version_id: uuid.UUID, node_id: str) -> WorkflowDefinition | None:
        """The definition, when ``node_id`` is a pure node of it (see ``claim_in``)."""
        definition = self.definitions.cached(version_id)
        if definition is None:
            with self.db.connect() as conn:
                definition = self.definitions.get(conn, version_id)
        node = definition.nodes.get(node_id)
        return definition if node is not None and get_node_type(node.type).pure else None

    def claim_in(self, txn: Transaction, step_id: uuid.UUID, definition: WorkflowDefinition, node: NodeSpec,
                 worker: str, task_id: str | None) -> Claim | None:
        """The claim inside an execution transaction, for a pure node that runs and is recorded
        in the same one: queued -> running, the execution counting the step, as ``claim`` does
        in a statement of its own. None when there is nothing to do (logged)."""
        step = txn.steps(self.neighbourhood(definition, node.id)).get(node.id)
        execution = txn.execution
        if (step is None or step.id != step_id or step.status != S.QUEUED
                or execution.status not in (E.PENDING, E.RUNNING)
                or (step.not_before is not None and step.not_before > txn.now + EARLY_TOLERANCE)):
            log.info("step %s: nothing to claim (duplicate, stale, not due, or execution not running)", step_id)
            return None
        if execution.status == E.PENDING:
            txn.move_execution(E.RUNNING)
        execution.set(step_count=execution.step_count + 1)
        if execution.step_count > definition.max_steps:
            txn.end(E.FAILED, f"max_steps ({definition.max_steps}) exceeded: runaway workflow stopped")
            return None
        txn.move_step(step, S.RUNNING, worker=worker, celery_task_id=task_id)
        return Claim(step_id, execution.id, node, step.attempt, step.turn, execution.values, definition)

    def _claim(self, params: dict[str, Any]) -> dict[str, Any] | None:
        with self.db.connect() as conn:
            if self.sql.claims_in_one_statement:    # no BEGIN and COMMIT round trips
                return self.sql.claim(conn.execution_options(isolation_level="AUTOCOMMIT"), params)
            with conn.begin():
                return self.sql.claim(conn, params)

    def prepare(self, claim: Claim, txn: Transaction | None = None) -> NodeContext:
        """Render the node's config and build its context: in the node's thread, inside its
        timeout, holding no lock (a pure node: inside ``txn``). Raises ``ConfigFailed``."""
        node = claim.node
        node_type = get_node_type(node.type)
        names = referenced_names(node.config)
        if not names:
            variables = template_variables({}, execution_meta(_Meta(claim)), None, {})
        else:
            variables = txn.variables(names) if txn is not None else self._variables(claim, names)
        wanted = secret_names(node.config)
        if wanted:
            with self.sessions() as session:
                claim.secrets = secret_values(session, self.keyring, claim.execution["owner_id"], wanted)
            variables["secrets"] = claim.secrets
        try:
            rendered = render_value({k: v for k, v in node.config.items() if k not in node_type.unrendered},
                                    variables, budget=RenderBudget(seconds=min(node.timeout_seconds,
                                                                               DEFAULT_BUDGET.seconds)))
            rendered.update({k: node.config[k] for k in node_type.unrendered if k in node.config})
            claim.config = config_schema_of(node_type).load(rendered)
        except (TemplateError, marshmallow.ValidationError) as exc:
            raise ConfigFailed(redact_values(f"config of node {node.id}: {exc}", claim.secrets)) from None
        checkpoint = self._checkpoint(claim) if claim.turn else None
        claim.context = NodeContext(
            str(claim.execution_id), node.id, claim.attempt, claim.config, variables,
            allow_private_network=self.settings.http_allow_private, turn=claim.turn, checkpoint=checkpoint,
            owner_id=str(claim.execution["owner_id"]), workflow_id=str(claim.execution["workflow_id"]),
            services=self.services, emit=lambda event_type, message=None, data=None: self.emit(
                claim, event_type, message, data))
        return claim.context

    def _variables(self, claim: Claim, names: frozenset[str]) -> dict[str, Any]:
        with self.db.connect() as conn:
            states = {}
            if "nodes" in names:
                rows, _ = self.sql.steps(conn, claim.execution_id, with_output=True)
                states = {n: StepState(S(r.status), r.values.get("output")) for n, r in rows.items()}
            execution_input = self.sql.execution_fields(conn, claim.execution_id, "input")["input"] \
                if "input" in names else None
            contexts = {}
            if "context" in names:
                contexts = dict(conn.execute(select(SharedContext.namespace, SharedContext.data).where(
                    SharedContext.execution_id == claim.execution_id)).all())
        return template_variables(states, execution_meta(_Meta(claim)), execution_input, contexts)

    def _checkpoint(self, claim: Claim) -> Any:
        with self.db.connect() as conn:
            return open_checkpoint(self.keyring, conn, claim.step_id, claim.turn)

    def wake(self, step_id: uuid.UUID, execution_id: uuid.UUID) -> None:
        """A short delay's message: the waiting step completes if its time has come."""
        def body(txn: Transaction) -> None:
            step = txn.step(step_id)
            if step is not None:
                txn.wake(step)
        self.atomic(execution_id, body)

    def emit(self, claim: Claim, event_type: str, message: str | None = None, data: Any = None) -> None:
        """An event of a running node (e.g. ``llm_delta``), in its own short transaction; dropped
        once the step has moved on, or when the database stays away (an event is for watching:
        losing one must not fail, and so repeat, a node that already called out)."""
        def append(txn: Transaction) -> None:
            step = txn.step(claim.step_id)
            if step is not None and step.status == S.RUNNING and step.attempt == claim.attempt:
                txn.event(event_type, redact_values(message, claim.secrets), node_id=claim.node.id,
                          attempt=claim.attempt, data=redact_values(data, claim.secrets))
        try:
            self.atomic(claim.execution_id, append)
        except DBAPIError as exc:
            if transient(exc) is None:
                raise
            log.warning("event %s of %s dropped: the database is away (%s)", event_type, claim.node.id, describe(exc))

    def renew_lease(self, claim: Claim) -> bool:
        """Extend a running step's lease; False once the step is no longer this attempt's turn.
        While the database is away the lease cannot be renewed and the node runs on: the
        sweepers, which cannot reach it either, give it a lease period once it is back."""
        until = utcnow() + timedelta(seconds=self.settings.lease_seconds)
        try:
            with self.db.connect() as conn, conn.begin():
                return self.sql.renew_lease(conn, claim.step_id, claim.attempt, claim.turn, until)
        except DBAPIError as exc:
            if transient(exc) is None:
                raise
            log.warning("lease of %s not renewed: %s", claim.node.id, describe(exc))
            return True

    def record(self, claim: Claim, node_type: NodeType | None, result: Any) -> str | None:
        """The node's outcome (an output, ``Suspend`` or ``Continue``) in one transaction, run
        again after transient errors (``atomic``). A value the database cannot store, or a write
        it refuses for good, fails the attempt once, without retry (it would fail the same way
        again), naming the error: then the failure's message is returned. A database still away
        after ``atomic``'s retries raises: the task is retried, and the step's lease recovered."""
        try:
            return self.atomic(claim.execution_id, lambda txn: self.record_in(txn, claim, node_type, result),
                               read=self._neighbourhood(claim))
        except DBAPIError as exc:
            if transient(exc) is not None:
                raise
            log.warning("recording %s failed: %s", claim.node.id, describe(exc))
            return self.fail(claim, f"the result of node {claim.node.id} could not be stored: {describe(exc)}", None,
                             retryable=False)[1]

    def record_in(self, txn: Transaction, claim: Claim, node_type: NodeType | None, result: Any) -> str | None:
        """``record`` inside ``txn``; a value the database cannot store fails the attempt."""
        try:
            check_storable(result.state if isinstance(result, Continue) else
                           result.output if isinstance(result, Suspend) else result)
        except NotStorable as exc:
            return self.fail_in(txn, claim, f"the output of node {claim.node.id} cannot be stored: {exc}", None,
                                retryable=False)[1]
        self._record(txn, claim, node_type, result)
        return None

    def fail(self, claim: Claim, message: str, traceback: str | None, retryable: bool = True) -> tuple[bool, str]:
        """Record a failed attempt; returns whether another attempt was queued, and the
        message as stored (the node's secrets masked), the only form to show or log."""
        outcome = self.atomic(claim.execution_id, lambda txn: self.fail_in(txn, claim, message, traceback, retryable),
                              read=self._neighbourhood(claim))
        return outcome or (False, redact_values(message, claim.secrets))

    def requeue(self, claim: Claim, error: DBAPIError) -> str:
        """The node met a transient database error of its own (reading its variables or its
        model's credentials): the step is queued again at once as the next attempt, at the same
        turn, not counted as a failure, as a lost worker's is. Returns the message."""
        message = f"attempt {claim.attempt} met a transient database error ({transient(error)}: {describe(error)})"

        def body(txn: Transaction) -> None:
            step = self._current(txn, claim)
            if step is None:
                return
            if step.attempt - step.failed_attempts >= MAX_LOST_WORKERS:
                txn.fail_attempt(step, f"{message}, the {MAX_LOST_WORKERS}th attempt in a row to end so",
                                 retryable=False)
                return
            txn.queue(step, f"{message}; queued again as attempt {step.attempt + 1}", attempt=step.attempt + 1,
                      not_before=None)
        self.atomic(claim.execution_id, body, read=self._neighbourhood(claim))
        return message

    def fail_in(self, txn: Transaction, claim: Claim, message: str, traceback: str | None,
                retryable: bool = True) -> tuple[bool, str]:
        """``fail`` inside ``txn``."""
        message, traceback = redact_values(message, claim.secrets), redact_values(traceback, claim.secrets)
        step = self._current(txn, claim)
        if step is None:
            return False, message
        self._write_records(txn, step, claim)
        txn.fail_attempt(step, message, traceback, retryable=retryable, **self._input(claim))
        return step.status == S.QUEUED, message

    def neighbourhood(self, definition: WorkflowDefinition, node_id: str) -> set[str]:
        """The node, its successors and their sources: what recording it reads."""
        plan = self.definitions.plan(definition)
        successors = plan.successors_of([node_id])
        return {node_id} | successors | plan.sources_of(successors)

    def _neighbourhood(self, claim: Claim) -> set[str]:
        return self.neighbourhood(claim.definition, claim.node.id)

    def _current(self, txn: Transaction, claim: Claim):
        """The claimed step, read with its successors and their sources (what ``advance``
        needs next), or None when this attempt's result is late (logged)."""
        step = txn.steps(self._neighbourhood(claim))[claim.node.id]
        if step.status != S.RUNNING or step.attempt != claim.attempt or step.turn != claim.turn:
            log.info("late result of %s attempt %s turn %s discarded (step is %s, attempt %s)",
                     claim.node.id, claim.attempt, claim.turn, step.status, step.attempt)
            return None
        return step

    def _input(self, claim: Claim) -> dict[str, Any]:
        return {} if claim.config is None else {"input": redact_values(redact(claim.config), claim.secrets)}

    def _write_records(self, txn: Transaction, step, claim: Claim, output: Any = None) -> None:
        if claim.context is not None:
            redact_recorded(claim.context, claim.secrets)
            txn.record(step, claim.context.calls, claim.context.messages)
            for hook in self.hooks.turn_recorded:
                hook(txn, step, claim.context, output)

    def _record(self, txn: Transaction, claim: Claim, node_type: NodeType | None, result: Any) -> None:
        step = self._current(txn, claim)
        if step is None:
            return
        completed = not isinstance(result, (Continue, Suspend))
        if completed:
            result = redact_values(result, claim.secrets)
        self._write_records(txn, step, claim, result if completed else None)
        for namespace, value, mode in claim.context.context_writes if claim.context is not None else ():
            txn.write_context(namespace, redact_values(value, claim.secrets), mode)
        fields = self._input(claim)
        if isinstance(result, Continue):
            txn.continue_turn(step, result.state, result.not_before, result.message, **fields)
        elif isinstance(result, Suspend) and result.approval is not None:
            token = txn.request_approval(step, result.approval.expires_at, result.approval.approver_email,
                                         redact_values(redact(result.approval.details), claim.secrets), result.state,
                                         **fields)
            ctx = claim.context
            txn.outbox.callbacks.append(lambda: node_type.on_suspended(ctx, token))
        elif isinstance(result, Suspend) and result.until is not None:
            txn.wait(step, f"waiting until {result.until.isoformat()}", until=result.until, output=result.output,
                     **fields)
        elif isinstance(result, Suspend):
            for hook in self.hooks.suspended:
                if hook(txn, step, result):
                    break
            else:
                txn.fail_attempt(step, f"node {claim.node.id} asked to wait for something nothing handles",
                                 retryable=False, **fields)
        else:
            txn.complete(step, result, **fields)
            txn.advance(after=claim.node.id)


class _Meta:
    """The execution fields templates see, from a claim."""

    def __init__(self, claim: Claim):
        self.id, self.workflow_id = claim.execution_id, claim.execution["workflow_id"]
        self.version, self.trigger = claim.execution["version"], claim.execution["trigger"]
