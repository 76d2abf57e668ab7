"""The ``subworkflow`` node: run another workflow as a child execution, or one child per item
of a list (a map), and complete with their outputs. The engine's children hooks do the work;
the node only says what to start."""
from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, fields, validate

from orchestrator.nodes.base import ChildRun, NodeContext, NodeError, NodeType, Suspend


class SubworkflowConfig(Schema):
    workflow = fields.String(required=True, validate=validate.Length(min=1, max=255))   # id or name
    version = fields.Integer(strict=True, validate=validate.Range(min=1))
    input = fields.Raw(load_default=dict)              # rendered per child: sees item and index in a map
    for_each = fields.Raw()                            # a template giving a list: one child per item
    max_concurrency = fields.Integer(strict=True, load_default=10, validate=validate.Range(min=1, max=1000))


class SubworkflowNode(NodeType):
    """``{workflow, version?, input}`` -> ``{execution_id, status, output}``; with ``for_each``
    -> ``{items: [{execution_id, status, output}], outputs: [...]}`` in item order."""

    type_name: ClassVar[str] = "subworkflow"
    config_schema: ClassVar[type[Schema]] = SubworkflowConfig
    unrendered: ClassVar[tuple[str, ...]] = ("input",)

    def run(self, ctx: NodeContext) -> Any:
        config = ctx.config
        if "for_each" not in config:
            return Suspend(child=ChildRun(config["workflow"], self._input(ctx, config["input"]), config.get("version")))
        items = config["for_each"]
        if not isinstance(items, list):
            raise NodeError(f"for_each must give a list, got {type(items).__name__}", retryable=False)
        if not items:
            return {"items": [], "outputs": []}
        runs = tuple(ChildRun(config["workflow"], self._input(ctx, config["input"], item=item, index=index),
                              config.get("version")) for index, item in enumerate(items))
        return Suspend(children=runs, max_concurrency=config["max_concurrency"])

    @staticmethod
    def _input(ctx: NodeContext, template: Any, **extra: Any) -> dict[str, Any]:
        value = ctx.render(template, **extra)
        if not isinstance(value, dict):
            raise NodeError(f"input must give a JSON object, got {type(value).__name__}", retryable=False)
        return value
