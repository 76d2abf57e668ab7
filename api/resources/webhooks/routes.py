"""Webhook triggers: a workflow's webhooks (made, listed, deleted with an API key), and the
URL that starts an execution when a signed request arrives (no API key: the signature)."""
from __future__ import annotations

from flask import request
from flask.views import MethodView

from api.auth import public
from api.blueprint import Blueprint, conflict, rate_limited
from api.context import audited, engine, keyring, owner, transaction
from api.resources.api_keys.schemas import IssuedKey
from api.resources.webhooks.schemas import (
    HookAcceptedSchema, WebhookCreatedSchema, WebhookCreateSchema, WebhookPageSchema,
)
from api.schemas import PageQuery
from orchestrator.security.signing import HEADER
from orchestrator.services import webhooks

blp = Blueprint("webhooks", __name__, description="Webhook triggers: signed requests that start executions")


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": "Error"}}}


@blp.route("/workflows/<uuid:workflow_id>/webhooks")
class Webhooks(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, WebhookPageSchema)
    def get(self, query, workflow_id):
        """A workflow's webhooks, newest first (never their secrets)"""
        with transaction() as session:
            return webhooks.list_webhooks(session, owner(), workflow_id, **query)

    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, WebhookCreatedSchema)
    def post(self, body, workflow_id):
        """Make a webhook: its URL, and its signing secret (in this answer only)"""
        with transaction() as session:
            hook, secret = webhooks.create_webhook(session, keyring(), owner(), workflow_id, **body)
            audited(session, "webhook.create", hook, {"workflow_id": str(workflow_id)})
            return IssuedKey(hook, secret)


@blp.route("/workflows/<uuid:workflow_id>/webhooks/<uuid:webhook_id>", methods=["DELETE"])
@blp.response(204)
def delete_webhook(workflow_id, webhook_id):
    """Delete a webhook: its URL answers 404 from now on"""
    with transaction() as session:
        audited(session, "webhook.delete", webhooks.delete_webhook(session, owner(), workflow_id, webhook_id),
                {"workflow_id": str(workflow_id)})


@blp.route("/hooks/<uuid:webhook_id>", methods=["POST"])
@public
@blp.response(202, HookAcceptedSchema)
@conflict("the signature was accepted before (a replay), the idempotency key was used with another input, or "
          "the workflow is archived")
@rate_limited("Over the webhook owner's max_executions_per_minute; Retry-After says when to retry")
@blp.doc(security=[], parameters=[{"in": "header", "name": HEADER, "required": True, "schema": {"type": "string"},
                                   "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>' keyed with "
                                                  "the webhook's secret>"}],
         requestBody={"required": False, "description": "Any body: JSON, a form, or text; signed as sent",
                      "content": {"application/json": {"schema": {}}, "*/*": {"schema": {"type": "string"}}}},
         responses={"401": _error("No signature, a malformed one, one that does not match the body, or a "
                                  "timestamp outside the webhook's tolerance"),
                    "413": _error("The body is over ORCHESTRATOR_MAX_BODY_BYTES"),
                    "422": _error("The input the request makes is not a JSON object or does not fit the "
                                  "workflow's input_schema, or the idempotency key is missing")})
def receive(webhook_id):
    """Start an execution from a signed request (no API key); the same idempotency key answers the same execution"""
    call = webhooks.Call(request.get_data(cache=True), request.mimetype, dict(request.headers),
                         request.query_string.decode("latin-1"), request.remote_addr)
    return webhooks.receive(engine(), webhook_id, call)
