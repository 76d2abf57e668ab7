"""The node-type contract.

A node type is a class with a ``type_name``, a marshmallow ``config_schema`` and one
``run(ctx)``. The engine never knows any subclass. ``run`` returns the output, or:

- ``Suspend``: park the step in ``waiting`` (a delay, a human approval, a child execution);
- ``Continue``: end this turn and run the node again as a new task (same attempt, ``turn + 1``),
  with ``state`` sealed in a checkpoint and given back as ``ctx.checkpoint``.

What a node records for people (``ctx.record_call``, ``ctx.send_message``) is written with
the step's next commit, so a call is committed together with the turn that made it.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar

import marshmallow

from orchestrator.templating import TemplateError, render_value


class NodeError(Exception):
    """A node attempt failed; the message is shown on the step (never put secrets in it).

    ``retryable=False``: another attempt cannot succeed (a refused address, a 404), so the
    step fails at once whatever its retry policy says.
    """

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class ApprovalRequest:
    expires_at: datetime
    approver_email: str | None = None
    notify_url: str | None = None
    details: dict[str, Any] | None = None   # what the approver decides on (e.g. a tool and its arguments)


@dataclass(frozen=True)
class ChildRun:
    """A child execution of ``workflow_id`` (an id or the owner's workflow name)."""

    workflow_id: str
    input: dict[str, Any] = field(default_factory=dict)
    version: int | None = None


@dataclass(frozen=True)
class Suspend:
    """Returned by ``run`` to park the step in ``waiting``.

    ``until``: the step completes with ``output`` once this instant passes (durable delay).
    ``approval``: the step waits for a human decision recorded in ``human_approvals``: approval
    completes the step, rejection or expiry fails it. With ``state``, the node decides instead:
    it runs again as the next turn with ``ctx.checkpoint == {**state, "approval": {"approved",
    "status", **decision_data}}``, whatever the decision was.
    ``child``: the step waits for a child execution; it completes with
    ``{execution_id, status, output}`` or fails with the child. With ``state``, the node takes
    the result up itself: it runs again as the next turn with ``ctx.checkpoint == {**state,
    "child": {execution_id, status, output, error}}`` (``"children"`` for a map), whether or
    not the child completed.
    """

    until: datetime | None = None
    approval: ApprovalRequest | None = None
    child: ChildRun | None = None
    output: dict[str, Any] = field(default_factory=dict)
    # A map: one child per run, at most ``max_concurrency`` open at a time; the step completes
    # with ``{items: [{execution_id, status, output}], outputs: [...]}`` in this order.
    children: tuple[ChildRun, ...] = ()
    max_concurrency: int = 10
    state: Any = None


@dataclass(frozen=True)
class Continue:
    """Returned by ``run`` to end this turn: the node runs again (now, or at ``not_before``)
    with ``state`` as ``ctx.checkpoint``. A turn is not a failure: no retry is used up."""

    state: Any
    not_before: datetime | None = None
    message: str = ""


@dataclass(frozen=True)
class CallRecord:
    """One call to the outside world (a model or a tool), kept in ``step_calls`` for people to
    read: ``request``, ``response`` and ``error`` must already be redacted."""

    kind: str                       # llm | tool
    target: str                     # e.g. "acme-openai/gpt-4o-mini" or a tool name
    status: str                     # ok | error
    request: Any = None
    response: Any = None
    usage: dict[str, Any] | None = None   # {prompt_tokens, completion_tokens, total_tokens}
    cost: float | None = None
    latency_ms: int | None = None
    error: str | None = None
    meta: dict[str, Any] | None = None     # e.g. {provider, model_id, credential_id}
    id: uuid.UUID = field(default_factory=uuid.uuid4)   # its step_calls row's (and a model call's ledger row's)


@dataclass(frozen=True)
class AgentMessage:
    to_node: str
    message_type: str
    content: Any
    from_node: str | None = None    # default: the sending node's id


@dataclass
class NodeContext:
    execution_id: str
    node_id: str
    attempt: int
    config: dict[str, Any]          # rendered and loaded through the type's config_schema
    variables: dict[str, Any]       # what templates see: input, nodes, execution, context
    allow_private_network: bool = False
    heartbeat: Callable[[], None] = lambda: None
    turn: int = 0
    checkpoint: Any = None          # the ``state`` of the previous turn's ``Continue``
    owner_id: str | None = None
    workflow_id: str | None = None
    services: Any = None            # what the composition root gives nodes (sessions, keyring, settings)
    calls: list[CallRecord] = field(default_factory=list)
    messages: list[AgentMessage] = field(default_factory=list)
    context_writes: list[tuple[str, Any, str]] = field(default_factory=list)   # (namespace, value, mode)
    # ``emit(event_type, message, data)`` appends an event at once, in its own short
    # transaction (e.g. ``llm_delta`` while a model streams); what it carries must be redacted.
    emit: Callable[..., None] = lambda *args, **kwargs: None

    @property
    def idempotency_key(self) -> str:
        key = f"{self.execution_id}:{self.node_id}:{self.attempt}"
        return f"{key}:{self.turn}" if self.turn else key

    def render(self, value: Any, **extra: Any) -> Any:
        """Render templates in ``value`` with what the config's templates saw, plus ``extra``;
        a template that fails is a ``NodeError`` that no retry can fix."""
        try:
            return render_value(value, {**self.variables, **extra})
        except TemplateError as exc:
            raise NodeError(str(exc), retryable=False) from None

    def record_call(self, record: CallRecord) -> None:
        """Kept in ``step_calls`` with the step's next commit (this turn's end)."""
        self.calls.append(record)

    def send_message(self, to_node: str, message_type: str, content: Any, from_node: str | None = None) -> None:
        """An ``a2a_messages`` row written with the step's next commit."""
        self.messages.append(AgentMessage(to_node, message_type, content, from_node))

    def write_context(self, namespace: str, value: Any, mode: str = "merge") -> None:
        """The execution's shared context ``namespace`` merged into (dicts) or replaced, with the
        step's next commit when the turn or the step succeeds (a failed one writes nothing)."""
        self.context_writes.append((namespace, value, mode))


class NodeType:
    type_name: ClassVar[str]
    config_schema: ClassVar[type[marshmallow.Schema]]
    # Config keys the engine leaves as written: the node renders them itself (with more
    # variables, e.g. a map's ``item``) through ``ctx.render``.
    unrendered: ClassVar[tuple[str, ...]] = ()
    # No side effects and no I/O, only work bounded by the render budget: the engine may claim,
    # run and record the node in one transaction (one commit, no lease), since running it
    # again after a crash repeats nothing anyone could see.
    pure: ClassVar[bool] = False
    # An attempt may end in turns (``Continue``), each one a step: a definition that leaves
    # ``max_steps`` out gets room for them (see orchestrator.definitions.validation).
    takes_turns: ClassVar[bool] = False

    def run(self, ctx: NodeContext) -> Any:
        raise NotImplementedError

    def on_suspended(self, ctx: NodeContext, approval_token: str | None) -> None:
        """Called after the ``waiting`` state is committed (e.g. to notify an approver)."""
