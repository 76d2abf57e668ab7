"""The ``team`` node: agents working in a topology (the work is in ``orchestrator.agents.team``);
``{team: <name> | inline topology_config, task}`` -> ``{final, stop_reason (final|terminate_on|
max_iterations), iterations, members: {<name>: {usage}}, usage}``."""
from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate, validates

from orchestrator.agents.loop import node_result
from orchestrator.agents.team import TeamRun, resolve_team
from orchestrator.nodes.base import NodeContext, NodeType


class TeamConfig(Schema):
    team = fields.Raw(required=True, metadata={"description": "A team's name or an inline topology_config"})
    task = fields.String(required=True, validate=validate.Length(min=1))
    timeout_seconds = fields.Integer(strict=True, validate=validate.Range(1, 86_400),
                                     metadata={"description": "Default: the team's (300 inline)"})
    max_iterations = fields.Integer(strict=True, validate=validate.Range(1, 1000),
                                    metadata={"description": "Member turns; default: the team's (50 inline)"})

    @validates("team")
    def _team(self, value: Any, **_: Any) -> None:
        if not (isinstance(value, dict) or (isinstance(value, str) and value)):
            raise ValidationError("give a team's name or an inline topology_config")


class TeamNode(NodeType):
    type_name: ClassVar[str] = "team"
    config_schema: ClassVar[type[Schema]] = TeamConfig
    takes_turns: ClassVar[bool] = True

    def run(self, ctx: NodeContext) -> Any:
        config = ctx.config
        plan = resolve_team(ctx, config["team"], config.get("timeout_seconds"), config.get("max_iterations"))
        run = TeamRun(ctx, plan, config["task"])
        state = ctx.checkpoint or run.first_state()
        return node_result(run.turn(state), state)
