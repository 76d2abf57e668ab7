"""The ``agent`` node: an agent's loop, one model call or one tool call per turn (the work is
in ``orchestrator.agents.loop``); output ``{text, structured, stop_reason (final|max_iterations),
iterations, tool_calls: [{name, arguments, status}], usage}``."""
from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates

from orchestrator.agents.loop import AgentLoop, first_state, node_result, resolve_agent
from orchestrator.nodes.base import NodeContext, NodeType
from orchestrator.nodes.llm import MODEL_REF

NAMESPACE = validate.Length(1, 100)


class InlineAgentSchema(Schema):
    model = fields.String(required=True, validate=MODEL_REF)
    instructions = fields.String(load_default="")
    tools = fields.List(fields.String(validate=validate.Length(1, 64)), load_default=list)
    output_schema = fields.Dict()
    params = fields.Dict(keys=fields.String(), load_default=dict)


class ContextSchema(Schema):
    read = fields.List(fields.String(validate=NAMESPACE), load_default=list,
                       metadata={"description": "Namespaces context_read may read"})
    write = fields.String(validate=NAMESPACE, metadata={"description": "The namespace context_write writes"})


class ApprovalSchema(Schema):
    timeout_seconds = fields.Integer(strict=True, load_default=86_400, validate=validate.Range(1, 30 * 86_400))
    approver_email = fields.Email()


class AgentConfig(Schema):
    agent = fields.Raw(required=True, metadata={"description": "An agent's name or an inline {model, instructions, "
                                                               "tools}"})
    prompt = fields.String(required=True, validate=validate.Length(min=1))
    max_iterations = fields.Integer(strict=True, validate=validate.Range(1, 100))
    output_schema = fields.Dict()
    context = fields.Nested(ContextSchema, load_default=dict)
    approval = fields.Nested(ApprovalSchema, load_default=dict,
                             metadata={"description": "For tools that require approval"})

    @validates("agent")
    def _agent(self, value: Any, **_: Any) -> None:
        if isinstance(value, dict):
            InlineAgentSchema().load(value)
        elif not isinstance(value, str) or not value:
            raise ValidationError("give an agent's name or an inline {model, instructions, tools}")


class AgentNode(NodeType):
    type_name: ClassVar[str] = "agent"
    config_schema: ClassVar[type[Schema]] = AgentConfig
    takes_turns: ClassVar[bool] = True

    def run(self, ctx: NodeContext) -> Any:
        config = ctx.config
        spec = resolve_agent(ctx, InlineAgentSchema().load(config["agent"]) if isinstance(config["agent"], dict)
                             else config["agent"], ctx.node_id)
        if "output_schema" in config:
            spec = replace(spec, output_schema=config["output_schema"])
        loop = AgentLoop(ctx, spec, ctx.node_id, max_iterations=config.get("max_iterations"),
                         read=config["context"].get("read"), write=config["context"].get("write"),
                         approval=config["approval"])
        state = ctx.checkpoint or first_state(spec, config["prompt"])
        return node_result(loop.turn(state), state)
