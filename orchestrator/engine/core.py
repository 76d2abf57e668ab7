"""The engine: start an execution, claim a step, record its outcome, advance the DAG.

Each public method is one transaction that takes the execution row lock first, changes
rows only through ``transitions``, and returns the messages to send once it has
committed. ``Outbox.flush`` sends them; nothing is sent before the commit.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable, Iterator

import marshmallow
from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.util import identity_key

from orchestrator.config import Settings
from orchestrator.crypto import KeyRing
from orchestrator.db import Execution, ExecutionStep, HumanApproval, SharedContext
from orchestrator.db.session import session_factory
from orchestrator.db.types import utcnow
from orchestrator.definitions import NodeSpec, WorkflowDefinition
from orchestrator.engine.dispatch import Dispatcher, StepMessage
from orchestrator.engine.graph import ConditionFailed, StepState, decide, sink_outputs, template_variables
from orchestrator.engine.store import load_definition
from orchestrator.engine.transitions import StaleStep, append_event, lock_step, move_execution, move_step
from orchestrator.nodes.base import NodeContext, NodeType, Suspend
from orchestrator.nodes.registry import config_schema_of, get_node_type
from orchestrator.states import (
    STEP_OPEN, ApprovalStatus, ExecutionStatus as E, OnError, StepStatus as S,
)
from orchestrator.templating import TemplateError, referenced_names, render_value

log = logging.getLogger(__name__)

# What states, decisions and transitions read of every step, on every hop.
_STEP_ROWS = select(ExecutionStep.id, ExecutionStep.node_id, ExecutionStep.node_type, ExecutionStep.status,
                    ExecutionStep.output, ExecutionStep.attempt, ExecutionStep.started_at) \
    .where(ExecutionStep.execution_id == bindparam("execution_id"))

SENSITIVE_KEY = re.compile(r"authorization|token|secret|password|passwd|api[-_]?key|cookie", re.I)
EARLY_TOLERANCE = timedelta(milliseconds=500)


def redact(value: Any) -> Any:
    """A copy of a rendered config fit to store as the step's input: secrets masked."""
    if isinstance(value, dict):
        return {k: "***" if SENSITIVE_KEY.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _states(rows: dict[str, Row]) -> dict[str, StepState]:
    return {node_id: StepState(S(row.status), row.output) for node_id, row in rows.items()}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Outbox:
    """What to do once the transaction has committed."""

    messages: list[StepMessage] = field(default_factory=list)
    revoke: list[str] = field(default_factory=list)
    callbacks: list[Callable[[], None]] = field(default_factory=list)

    def flush(self, dispatcher: Dispatcher) -> None:
        """Never raises: what is committed stands, and the sweeper re-sends what was not sent."""
        actions = [(lambda: dispatcher.revoke(self.revoke)) if self.revoke else None,
                   (lambda: dispatcher.send(self.messages)) if self.messages else None, *self.callbacks]
        for action in filter(None, actions):
            try:
                action()
            except Exception:
                log.exception("after-commit action failed; the sweeper re-sends unsent step messages")


def _drops_stale(method: Callable[..., Any]) -> Callable[..., Any]:
    """A message or result about a step that changed meanwhile (a concurrent duplicate, a
    recovered lease) rolls its transaction back and is dropped, as a duplicate is."""
    @functools.wraps(method)
    def wrapper(self: "Engine", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except StaleStep as exc:
            log.info("%s dropped: %s", method.__name__, exc)
            return None
    return wrapper


@dataclass(frozen=True)
class FailedClaim:
    """The attempt failed before its node could run (its config did not render); recorded."""

    error: str


@dataclass
class Claim:
    """A step this worker now runs: everything the node needs, read in the claim transaction."""

    step_id: uuid.UUID
    execution_id: uuid.UUID
    node: NodeSpec
    attempt: int
    config: dict[str, Any]
    variables: dict[str, Any]


class Engine:
    def __init__(self, settings: Settings, keyring: KeyRing, dispatcher: Dispatcher,
                 sessions: sessionmaker[Session] | None = None):
        self.settings = settings
        self.keyring = keyring
        self.dispatcher = dispatcher
        self.sessions = sessions or session_factory(settings)

    # -- plumbing ---------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[tuple[Session, Outbox]]:
        """One transaction; its outbox is flushed only after a successful commit."""
        outbox = Outbox()
        with self.sessions() as session:
            with session.begin():
                yield session, outbox
        outbox.flush(self.dispatcher)

    def definition(self, session: Session, execution: Execution) -> WorkflowDefinition:
        return load_definition(session, self.keyring, execution.workflow_version_id)

    def _steps(self, session: Session, execution: Execution, *where: Any) -> dict[str, ExecutionStep]:
        """Step rows as ORM objects (to change them), optionally filtered. A step already in the
        session was loaded under this transaction's execution lock, so it is current and kept
        as it is (with its unflushed changes)."""
        rows = session.scalars(select(ExecutionStep).where(ExecutionStep.execution_id == execution.id, *where))
        return {row.node_id: row for row in rows}

    def _rows(self, session: Session, execution: Execution) -> dict[str, Row]:
        """Every step as a plain row, read on every hop: what states, decisions and transitions
        need. ``move_step`` writes at once, so the table is current; no flush first (the
        execution row is written once, at commit)."""
        rows = session.connection().execute(_STEP_ROWS, {"execution_id": execution.id})
        return {row.node_id: row for row in rows}

    def _step(self, session: Session, execution: Execution, row: Row) -> ExecutionStep:
        """The session's object for a step row, or else a detached stand-in for ``move_step``."""
        step = session.identity_map.get(identity_key(ExecutionStep, row.id))
        return step or ExecutionStep(id=row.id, execution_id=execution.id, node_id=row.node_id,
                                     node_type=row.node_type, status=row.status, attempt=row.attempt,
                                     started_at=row.started_at)

    def _variables(self, session: Session, execution: Execution, states: dict[str, StepState],
                   names: frozenset[str]) -> dict[str, Any]:
        """What templates see; shared contexts are read only when a template names them."""
        contexts = session.execute(
            select(SharedContext.namespace, SharedContext.data).where(SharedContext.execution_id == execution.id)
        ).all() if "context" in names else ()
        meta = {"id": str(execution.id), "workflow_id": str(execution.workflow_id), "version": execution.version,
                "trigger": execution.trigger}
        return template_variables(states, meta, execution.input if "input" in names else None, dict(contexts))

    def _message(self, execution: Execution, step: ExecutionStep, definition: WorkflowDefinition) -> StepMessage:
        """The message for a step whose ``dispatched_at`` its caller has just set."""
        return StepMessage(step.id, execution.id, step.node_id, step.node_type, step.attempt,
                           definition.nodes[step.node_id].timeout_seconds)

    # -- start ----------------------------------------------------------------------

    def start(self, session: Session, execution: Execution, outbox: Outbox) -> None:
        """Inside the submitting transaction: one step row per node, the roots queued."""
        definition = self.definition(session, execution)
        if definition.timeout_seconds:
            execution.deadline_at = utcnow() + timedelta(seconds=definition.timeout_seconds)
        append_event(session, execution, "execution_pending", f"execution of version {execution.version} accepted")
        steps = [ExecutionStep(id=uuid.uuid4(), execution_id=execution.id, node_id=n.id, node_type=n.type)
                 for n in definition.nodes.values()]
        session.add_all(steps)
        session.flush()
        for step in steps:
            if not definition.incoming(step.node_id):
                move_step(session, execution, step, S.QUEUED, dispatched_at=utcnow())
                outbox.messages.append(self._message(execution, step, definition))

    # -- the worker side ------------------------------------------------------------

    @_drops_stale
    def claim(self, step_id: uuid.UUID, worker: str, task_id: str | None) -> Claim | FailedClaim | None:
        """queued -> running, or None when this message has nothing to do (logged)."""
        with self.transaction() as (session, outbox):
            locked = lock_step(session, step_id)
            if locked is None:
                log.warning("step %s does not exist; message dropped", step_id)
                return None
            execution, step = locked
            now = utcnow()
            if step.status != S.QUEUED or execution.status not in (E.PENDING, E.RUNNING):
                log.info("step %s is %s in a %s execution; duplicate or stale message ignored",
                         step.node_id, step.status, execution.status)
                return None
            if step.not_before and step.not_before > now + EARLY_TOLERANCE:
                log.info("step %s is not due until %s; the sweeper sends it then", step.node_id, step.not_before)
                step.dispatched_at = None
                return None
            definition = self.definition(session, execution)
            if execution.status == E.PENDING:
                move_execution(session, execution, E.RUNNING)
            execution.step_count += 1
            if execution.step_count > definition.max_steps:
                self._end(session, execution, outbox, E.FAILED,
                          f"max_steps ({definition.max_steps}) exceeded: runaway workflow stopped")
                return None
            node = definition.nodes[step.node_id]
            names = referenced_names(node.config)
            states = _states(self._rows(session, execution)) if "nodes" in names else {}
            variables = self._variables(session, execution, states, names)
            try:
                rendered = render_value(node.config, variables)
                config = config_schema_of(get_node_type(node.type)).load(rendered)
            except (TemplateError, marshmallow.ValidationError) as exc:
                move_step(session, execution, step, S.RUNNING, worker=worker, celery_task_id=task_id)
                failed = FailedClaim(f"config of node {node.id}: {exc}")
                self._failed(session, execution, step, definition, outbox, failed.error, None, retryable=False)
                return failed
            move_step(session, execution, step, S.RUNNING, worker=worker, celery_task_id=task_id,
                      input=redact(config), lease_expires_at=now + timedelta(seconds=self.settings.lease_seconds))
            return Claim(step.id, execution.id, node, step.attempt, config, variables)

    def renew_lease(self, claim: Claim) -> bool:
        """Extend a running step's lease; False once the step is no longer this attempt's."""
        with self.sessions() as session, session.begin():
            step = session.get(ExecutionStep, claim.step_id, with_for_update=True)
            if step.status != S.RUNNING or step.attempt != claim.attempt:
                return False
            step.lease_expires_at = utcnow() + timedelta(seconds=self.settings.lease_seconds)
            return True

    def _current(self, session: Session, claim: Claim) -> tuple[Execution, ExecutionStep] | None:
        execution, step = lock_step(session, claim.step_id)
        if step.status != S.RUNNING or step.attempt != claim.attempt:
            log.info("late result of %s attempt %s discarded (step is %s, attempt %s)",
                     claim.node.id, claim.attempt, step.status, step.attempt)
            return None
        return execution, step

    @_drops_stale
    def succeed(self, claim: Claim, node_type: NodeType, result: Any) -> None:
        with self.transaction() as (session, outbox):
            current = self._current(session, claim)
            if current is None:
                return
            execution, step = current
            if isinstance(result, Suspend):
                self._suspend(session, execution, step, claim, node_type, result, outbox)
                return
            move_step(session, execution, step, S.COMPLETED, output=result, error_message=None, error_traceback=None)
            self._advance(session, execution, outbox)

    @_drops_stale
    def fail(self, claim: Claim, message: str, traceback: str | None) -> None:
        with self.transaction() as (session, outbox):
            current = self._current(session, claim)
            if current is not None:
                execution, step = current
                self._failed(session, execution, step, self.definition(session, execution), outbox, message, traceback)

    def _suspend(self, session: Session, execution: Execution, step: ExecutionStep, claim: Claim,
                 node_type: NodeType, result: Suspend, outbox: Outbox) -> None:
        if result.approval is not None:
            token = secrets.token_urlsafe(32)
            session.add(HumanApproval(execution_id=execution.id, step_id=step.id, token_hash=hash_token(token),
                                      approver_email=result.approval.approver_email,
                                      expires_at=result.approval.expires_at))
            move_step(session, execution, step, S.WAITING, "waiting for a human decision",
                      lease_expires_at=None, data={"expires_at": result.approval.expires_at.isoformat()})
            ctx = self.context(claim)
            outbox.callbacks.append(lambda: node_type.on_suspended(ctx, token))
        else:
            move_step(session, execution, step, S.WAITING, f"waiting until {result.until.isoformat()}",
                      lease_expires_at=None, not_before=result.until, output=result.output)

    def context(self, claim: Claim) -> NodeContext:
        return NodeContext(str(claim.execution_id), claim.node.id, claim.attempt, claim.config, claim.variables,
                           allow_private_network=self.settings.http_allow_private)

    # -- outcomes -------------------------------------------------------------------

    def _failed(self, session: Session, execution: Execution, step: ExecutionStep, definition: WorkflowDefinition,
                outbox: Outbox, message: str, traceback: str | None, retryable: bool = True) -> None:
        """An attempt failed: retry with backoff, or apply the node's on_error policy."""
        node = definition.nodes[step.node_id]
        failed = step.failed_attempts + 1
        if retryable and failed < node.retry.max_attempts:
            delay = node.retry.backoff_for(failed)
            send = delay <= 0 and execution.status == E.RUNNING
            move_step(session, execution, step, S.QUEUED, f"attempt {step.attempt} failed: {message}; retry in {delay:g}s",
                      attempt=step.attempt + 1, failed_attempts=failed, error_message=message,
                      error_traceback=traceback, not_before=utcnow() + timedelta(seconds=delay),
                      dispatched_at=utcnow() if send else None)
            if send:
                outbox.messages.append(self._message(execution, step, definition))
            return
        policy = OnError(node.on_error)
        if policy is OnError.DEFAULT:
            move_step(session, execution, step, S.COMPLETED, f"failed: {message}; default output used",
                      output=node.default_output, failed_attempts=failed, error_message=message,
                      error_traceback=traceback)
        else:
            move_step(session, execution, step, S.FAILED, message, failed_attempts=failed,
                      error_message=message, error_traceback=traceback)
        if policy is OnError.FAIL:
            self._end(session, execution, outbox, E.FAILED, f"node {node.id} failed: {message}", traceback)
        else:
            self._advance(session, execution, outbox)

    def _advance(self, session: Session, execution: Execution, outbox: Outbox) -> None:
        """Queue or skip what became decidable; finish the execution when every step is."""
        if execution.status not in (E.PENDING, E.RUNNING, E.PAUSED):
            return
        definition = self.definition(session, execution)
        rows = self._rows(session, execution)
        states = _states(rows)
        names = referenced_names(definition.output, (e.condition for e in definition.edges if e.condition))
        variables = self._variables(session, execution, states, names)
        try:
            decisions = decide(definition, states, variables)
        except ConditionFailed as exc:
            self._end(session, execution, outbox, E.FAILED, str(exc))
            return
        for node_id, decision in decisions.items():
            step = self._step(session, execution, rows[node_id])
            if decision is S.QUEUED and execution.status == E.RUNNING:
                move_step(session, execution, step, decision, dispatched_at=utcnow())
                outbox.messages.append(self._message(execution, step, definition))
            else:
                move_step(session, execution, step, decision)
            states[node_id] = StepState(decision)
        if execution.status == E.PAUSED or any(st.status in STEP_OPEN for st in states.values()):
            return
        if definition.output is None:
            move_execution(session, execution, E.COMPLETED, output=sink_outputs(definition, states))
            return
        try:
            output = render_value(definition.output, variables)
        except TemplateError as exc:
            self._end(session, execution, outbox, E.FAILED, f"output: {exc}")
            return
        move_execution(session, execution, E.COMPLETED, output=output)

    def _end(self, session: Session, execution: Execution, outbox: Outbox, status: E, message: str,
             traceback: str | None = None) -> None:
        """Fail, cancel or time out: open steps are cancelled, running tasks revoked after commit."""
        for step in self._steps(session, execution, ExecutionStep.status.in_([s.value for s in STEP_OPEN])).values():
            if step.status == S.RUNNING and step.celery_task_id:
                outbox.revoke.append(step.celery_task_id)
            move_step(session, execution, step, S.CANCELLED, f"execution {status.value}")
        session.execute(
            HumanApproval.__table__.update()
            .where(HumanApproval.execution_id == execution.id, HumanApproval.status == ApprovalStatus.PENDING)
            .values(status=ApprovalStatus.EXPIRED.value, decided_at=utcnow())
        )
        move_execution(session, execution, status, message, error_message=message, error_traceback=traceback)
