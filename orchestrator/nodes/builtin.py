"""The built-in node types that need no network of their own: noop, transform, delay and
human_approval (whose optional notification goes out through ``safe_request``)."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from marshmallow import Schema, fields, validate

from orchestrator.nodes.base import ApprovalRequest, NodeContext, NodeType, Suspend
from orchestrator.security.network import SCHEMES, NetworkError, describe_url, safe_request

logger = logging.getLogger(__name__)

# Ten years: far beyond any sensible wait, and far from where datetime arithmetic overflows.
MAX_WAIT_SECONDS = 10 * 365 * 24 * 3600
NOTIFY_TIMEOUT_SECONDS = 10.0


def _now() -> datetime:
    return datetime.now(timezone.utc)


class NoopConfig(Schema):
    pass


class NoopNode(NodeType):
    """Does nothing; useful to join branches or to mark a point in the graph."""

    type_name: ClassVar[str] = "noop"
    pure: ClassVar[bool] = True
    config_schema: ClassVar[type[Schema]] = NoopConfig

    def run(self, ctx: NodeContext) -> dict[str, Any]:
        return {}


class TransformConfig(Schema):
    output = fields.Raw(required=True, allow_none=True)


class TransformNode(NodeType):
    """Outputs its ``output`` config, which the engine has rendered: any JSON value."""

    type_name: ClassVar[str] = "transform"
    pure: ClassVar[bool] = True
    config_schema: ClassVar[type[Schema]] = TransformConfig

    def run(self, ctx: NodeContext) -> Any:
        return ctx.config["output"]


class DelayConfig(Schema):
    seconds = fields.Float(required=True, validate=validate.Range(min=0, max=MAX_WAIT_SECONDS))


class DelayNode(NodeType):
    """Waits durably: the step is parked until the instant passes, holding no worker."""

    type_name: ClassVar[str] = "delay"
    pure: ClassVar[bool] = True
    config_schema: ClassVar[type[Schema]] = DelayConfig

    def run(self, ctx: NodeContext) -> Suspend:
        return Suspend(until=_now() + timedelta(seconds=ctx.config["seconds"]))


class HumanApprovalConfig(Schema):
    approver_email = fields.Email()
    expires_in_seconds = fields.Integer(
        strict=True, load_default=86400, validate=validate.Range(min=1, max=MAX_WAIT_SECONDS)
    )
    notify_url = fields.Url(schemes=set(SCHEMES), require_tld=False)


class HumanApprovalNode(NodeType):
    """Waits for a person to approve or reject; ``notify_url`` gets the one-time token."""

    type_name: ClassVar[str] = "human_approval"
    config_schema: ClassVar[type[Schema]] = HumanApprovalConfig

    def run(self, ctx: NodeContext) -> Suspend:
        return Suspend(
            approval=ApprovalRequest(
                expires_at=_now() + timedelta(seconds=ctx.config["expires_in_seconds"]),
                approver_email=ctx.config.get("approver_email"),
                notify_url=ctx.config.get("notify_url"),
            )
        )

    def on_suspended(self, ctx: NodeContext, approval_token: str | None) -> None:
        """POST the token to ``notify_url``; a failure is logged (without the token), not raised.

        ``expires_at`` is computed when the notification is sent: the hook is not given the
        ``ApprovalRequest``, so it may be later than the stored expiry by the commit's latency.
        """
        notify_url = ctx.config.get("notify_url")
        if not notify_url or approval_token is None:
            return
        payload = {
            "execution_id": ctx.execution_id,
            "node_id": ctx.node_id,
            "approver_email": ctx.config.get("approver_email"),
            "approval_token": approval_token,
            "approve_url_path": "/api/v1/approvals/token/approve",     # POST {"token": approval_token}
            "reject_url_path": "/api/v1/approvals/token/reject",
            "expires_at": (_now() + timedelta(seconds=ctx.config["expires_in_seconds"])).isoformat(),
        }
        try:
            response = safe_request(
                "POST", notify_url, allow_private=ctx.allow_private_network, timeout=NOTIFY_TIMEOUT_SECONDS,
                headers={"Content-Type": "application/json", "Idempotency-Key": ctx.idempotency_key},
                body=json.dumps(payload).encode(), follow_redirects=False,
            )
        except NetworkError as exc:
            logger.warning(
                "approval notification for execution %s node %s failed: %s", ctx.execution_id, ctx.node_id, exc
            )
            return
        if not 200 <= response.status_code < 300:
            logger.warning(
                "approval notification for execution %s node %s failed: HTTP %s from %s",
                ctx.execution_id, ctx.node_id, response.status_code, describe_url(notify_url),
            )
