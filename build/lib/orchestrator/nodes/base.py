"""The node-type contract.

A node type is a class with a ``type_name``, a marshmallow ``config_schema`` and one
``run(ctx)``. It never touches the database and the engine never knows any subclass:
a node that must wait (a delay, a human approval) returns a ``Suspend`` and the engine
parks the step in ``waiting``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, ClassVar

import marshmallow


class NodeError(Exception):
    """A node attempt failed; the message is shown on the step (never put secrets in it)."""


@dataclass(frozen=True)
class ApprovalRequest:
    expires_at: datetime
    approver_email: str | None = None
    notify_url: str | None = None


@dataclass(frozen=True)
class Suspend:
    """Returned by ``run`` to park the step in ``waiting``.

    ``until``: the step completes with ``output`` once this instant passes (durable delay).
    ``approval``: the step waits for a human decision recorded in ``human_approvals``.
    """

    until: datetime | None = None
    approval: ApprovalRequest | None = None
    output: dict[str, Any] = field(default_factory=dict)


@dataclass
class NodeContext:
    execution_id: str
    node_id: str
    attempt: int
    config: dict[str, Any]          # rendered and loaded through the type's config_schema
    variables: dict[str, Any]       # what templates see: input, nodes, execution, context
    allow_private_network: bool = False
    heartbeat: Callable[[], None] = lambda: None

    @property
    def idempotency_key(self) -> str:
        return f"{self.execution_id}:{self.node_id}:{self.attempt}"


class NodeType:
    type_name: ClassVar[str]
    config_schema: ClassVar[type[marshmallow.Schema]]

    def run(self, ctx: NodeContext) -> dict[str, Any] | Suspend:
        raise NotImplementedError

    def on_suspended(self, ctx: NodeContext, approval_token: str | None) -> None:
        """Called after the ``waiting`` state is committed (e.g. to notify an approver)."""
