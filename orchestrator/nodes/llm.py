"""The ``llm`` node: one model answer, with fallbacks, structured output, streaming and memory.
The work is in ``orchestrator.llm``; this is its config and its place in the registry."""
from __future__ import annotations

from typing import Any, ClassVar

import jsonschema
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from orchestrator.llm.completion import Completion
from orchestrator.nodes.base import NodeContext, NodeType

MODEL_REF = validate.Regexp(r"^[^/\s]+/\S+$", error="must be <provider name>/<model_id>")


class MessageSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(["system", "user", "assistant"]))
    content = fields.String(required=True)


class MemorySchema(Schema):
    key = fields.String(required=True, validate=validate.Length(1, 255))
    max_messages = fields.Integer(strict=True, load_default=10, validate=validate.Range(1, 100),
                                  metadata={"description": "Question/answer pairs sent before the prompt"})


class LLMConfig(Schema):
    model = fields.String(required=True, validate=MODEL_REF)
    fallbacks = fields.List(fields.String(validate=MODEL_REF), load_default=list, validate=validate.Length(max=10))
    system = fields.String()
    prompt = fields.String(validate=validate.Length(min=1))
    messages = fields.List(fields.Nested(MessageSchema), validate=validate.Length(min=1))
    params = fields.Dict(keys=fields.String(), load_default=dict)
    output_schema = fields.Dict()
    repair_attempts = fields.Integer(strict=True, load_default=1, validate=validate.Range(0, 5))
    stream = fields.Boolean(load_default=False)
    memory = fields.Nested(MemorySchema)

    @validates("output_schema")
    def _schema(self, value: dict[str, Any], **_: Any) -> None:
        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.SchemaError as exc:
            raise ValidationError(f"not a valid JSON Schema: {exc.message}") from None

    @validates_schema
    def _prompt_or_messages(self, data: dict[str, Any], **_: Any) -> None:
        if ("prompt" in data) == ("messages" in data):
            raise ValidationError("give either prompt or messages", "prompt")
        if "messages" in data and not any(m["role"] == "user" for m in data["messages"]):
            raise ValidationError("messages need at least one user message", "messages")


class LLMNode(NodeType):
    """Asks a model (``<provider name>/<model_id>``); output ``{text, structured, finish_reason,
    model: {provider, model_id, fallback_index}, usage: {prompt_tokens, completion_tokens,
    total_tokens, cost}}``."""

    type_name: ClassVar[str] = "llm"
    config_schema: ClassVar[type[Schema]] = LLMConfig
    takes_turns: ClassVar[bool] = True

    def run(self, ctx: NodeContext) -> Any:
        return Completion(ctx).run()
