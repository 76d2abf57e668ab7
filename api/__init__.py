"""The HTTP API under /api/v1. ``create_app`` is the composition root; nothing runs at import."""
from __future__ import annotations

from flask import Flask, request

from api import console
from api.auth import API_PREFIX, SCHEME, authenticate, stop_acting
from api.context import Orchestrator
from api.docs import ASSETS_URL, swagger_ui_assets
from api.errors import Api, register_error_handlers
from api.metrics import Metrics
from api.retry import RetryingFlask, track_commits
from api.operations import blp as operations
from api.resources import (
    agents, api_keys, app_calls, approvals, apps, calls, credentials, endpoints, executions, governance, groups,
    interchange, lineage, models, notifications, providers, schedules, secrets, snapshots, squads,
    structured_outputs, teams, templates, tools, usage, webhooks, workflows,
)
from orchestrator.composition import build_engine
from orchestrator.config import Settings
from orchestrator.db.session import session_factory
from orchestrator.engine import Engine
from orchestrator.services import audit
from orchestrator.services.api_keys import ensure_api_key
from worker.celery_app import create_celery
from worker.dispatch import CeleryDispatcher

DESCRIPTION = """Durable workflow orchestration. Every resource under /api/v1 needs
`Authorization: Bearer <API key>` (make one with `orchestrator api-keys create`) and belongs to
the key's owner: another owner's id answers 404. Errors are `{code, status, message, errors}`."""


def read_streamed_body() -> None:
    """``before_request``: a chunked body has no Content-Length to refuse in advance, and reading
    it stops at MAX_CONTENT_LENGTH without a word; read it here, so one over the limit is a 413
    (the stream raises it past the limit), not a body cut short that fails as bad JSON."""
    if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        request.get_data(cache=True)
        request.stream.read(1)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Flask:
    """The API over ``engine`` (default: one that dispatches through Celery on the settings' broker,
    its pool testing each connection before use: see ``api.retry``)."""
    settings = settings or (engine.settings if engine else Settings.from_env())
    celery = create_celery(settings)
    engine = engine or build_engine(settings, CeleryDispatcher(celery), session_factory(settings, pre_ping=True))
    app = RetryingFlask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="Orchestrator", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs", OPENAPI_SWAGGER_UI_URL=f"{ASSETS_URL}/",
        OPENAPI_SWAGGER_UI_CONFIG={"persistAuthorization": True},
        API_SPEC_OPTIONS={"info": {"description": DESCRIPTION}, "security": [{SCHEME: []}]},
    )
    metrics = Metrics(engine, celery)
    app.extensions["orchestrator"] = Orchestrator(engine, celery, metrics)
    metrics.init_app(app)
    app.before_request(read_streamed_body)
    app.before_request(authenticate)
    app.teardown_request(stop_acting)
    audit.install(engine.sessions)
    track_commits(engine.db)
    api = Api(app)
    api.spec.components.security_scheme(SCHEME, {"type": "http", "scheme": "bearer"})
    register_error_handlers(app)
    for resource in (workflows, executions, schedules, approvals, api_keys, secrets, providers, endpoints, credentials,
                     models, calls, structured_outputs, usage, governance, agents, tools, teams, squads, templates,
                     interchange, snapshots, groups, apps, app_calls, lineage, webhooks, notifications):
        api.register_blueprint(resource.blp, url_prefix=API_PREFIX)
    api.register_blueprint(operations)
    app.register_blueprint(swagger_ui_assets())
    app.register_blueprint(console.blp)
    if settings.bootstrap_api_key:
        with engine.sessions.begin() as session:
            ensure_api_key(session, settings.bootstrap_api_key)
    return app
