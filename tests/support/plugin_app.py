"""The worker app plus node types that only tests use: ``celery -A tests.support.plugin_app``.

``http_turns`` continues for ``turns`` turns and calls the test HTTP server once per turn
(``GET {url}/turn?key={execution}-{turn}``), so a test counts how often each turn ran; the
``slow_turn`` also waits on ``/slow`` for ``sleep`` seconds, long enough to kill its worker.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import requests
from marshmallow import Schema, fields

from orchestrator.config import Settings
from orchestrator.nodes.base import Continue, NodeContext, NodeType
from orchestrator.nodes.registry import register
from worker.celery_app import create_celery


class HttpTurnsConfig(Schema):
    url = fields.String(required=True)
    turns = fields.Integer(load_default=4)
    slow_turn = fields.Integer(load_default=-1)
    sleep = fields.Float(load_default=0)
    between_seconds = fields.Float(load_default=0)


@register
class HttpTurnsNode(NodeType):
    type_name = "http_turns"
    config_schema = HttpTurnsConfig

    def run(self, ctx: NodeContext):
        config, key = ctx.config, f"{ctx.execution_id}-{ctx.turn}"
        requests.get(f"{config['url']}/turn", params={"key": key}, timeout=10)
        if ctx.turn == config["slow_turn"]:
            requests.get(f"{config['url']}/slow", params={"key": f"slow-{key}", "s": config["sleep"]}, timeout=30)
        done = (ctx.checkpoint or {"done": []})["done"] + [ctx.turn]
        if ctx.turn >= config["turns"]:
            return {"done": done}
        not_before = datetime.now(timezone.utc) + timedelta(seconds=config["between_seconds"]) \
            if config["between_seconds"] else None
        return Continue({"done": done}, not_before=not_before)


app = create_celery(Settings.from_env())
