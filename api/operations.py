"""Operations: liveness, readiness (database and broker) and metrics; no API key."""
from __future__ import annotations

import logging
from typing import Any

from flask_smorest import abort
from marshmallow import Schema, fields
from sqlalchemy import select

from api.blueprint import Blueprint
from api.context import wiring
from api.errors import ErrorSchema

log = logging.getLogger(__name__)
BROKER_TIMEOUT_SECONDS = 3

blp = Blueprint("operations", __name__, description="Health, readiness and Prometheus metrics (no API key)")
NO_KEY: dict[str, list[Any]] = {"security": []}


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class ReadySchema(HealthSchema):
    checks = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                         metadata={"example": {"database": "ok", "broker": "ok"}})


def _database() -> None:
    with wiring().engine.sessions() as session:
        session.execute(select(1))


def _broker() -> None:
    with wiring().celery.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)


CHECKS = {"database": _database, "broker": _broker}


@blp.route("/healthz")
@blp.response(200, HealthSchema)
@blp.doc(**NO_KEY)
def healthz():
    """The process is up"""
    return {"status": "ok"}


@blp.route("/readyz")
@blp.response(200, ReadySchema)
@blp.alt_response(503, schema=ErrorSchema, description="What is down, under errors")
@blp.doc(**NO_KEY)
def readyz():
    """The database and the broker answer"""
    down = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            log.warning("readiness: %s is down: %s: %s", name, type(exc).__name__, exc)
            down[name] = ["unavailable"]
    if down:
        abort(503, message=f"not ready: {', '.join(down)} down", errors=down)
    return {"status": "ready", "checks": {name: "ok" for name in CHECKS}}


@blp.route("/metrics")
@blp.doc(**NO_KEY, responses={"200": {"description": "Prometheus text format", "content": {
    "text/plain": {"schema": {"type": "string"}}}}})
def metrics():
    """Prometheus metrics"""
    return wiring().metrics.render()
