"""The ``tool`` node: one call of a stored tool, ``{tool, arguments}`` -> ``{result}``. A
workflow tool runs as a child execution (the step's output is then the child's
``{execution_id, status, output}``); a tool that requires approval waits for a person first."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from marshmallow import Schema, fields, validate

from orchestrator.agents.tools import call_http, check_arguments, child_run, is_workflow, load_tool
from orchestrator.db.types import utcnow
from orchestrator.nodes.agent import ApprovalSchema
from orchestrator.nodes.base import ApprovalRequest, NodeContext, NodeError, NodeType, Suspend


class ToolConfig(Schema):
    tool = fields.String(required=True, validate=validate.Length(1, 64))
    arguments = fields.Dict(keys=fields.String(), load_default=dict)
    approval = fields.Nested(ApprovalSchema, load_default=dict,
                             metadata={"description": "When the tool requires approval"})


class ToolNode(NodeType):
    type_name: ClassVar[str] = "tool"
    config_schema: ClassVar[type[Schema]] = ToolConfig

    def run(self, ctx: NodeContext) -> Any:
        config = ctx.config
        spec = load_tool(ctx, config["tool"])
        arguments = config["arguments"]
        check_arguments(spec, arguments)
        if spec.requires_approval:
            decision = (ctx.checkpoint or {}).get("approval")
            if decision is None:
                return Suspend(approval=ApprovalRequest(
                    expires_at=utcnow() + timedelta(seconds=config["approval"].get("timeout_seconds", 86_400)),
                    approver_email=config["approval"].get("approver_email"),
                    details={"tool": spec.name, "arguments": arguments}), state={})
            if not decision["approved"]:
                raise NodeError(f"the call of tool {spec.name!r} was {decision['status']} by a person",
                                retryable=False)
        if is_workflow(spec):
            return Suspend(child=child_run(spec, arguments))
        return {"result": call_http(ctx, spec, arguments)}
