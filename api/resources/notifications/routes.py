"""Outbound notifications: the URLs told about a workflow's executions, and what each
execution's notifications became (sent, retried, failed)."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import audited, keyring, owner, transaction
from api.resources.api_keys.schemas import IssuedKey
from api.resources.notifications.schemas import (
    DeliveryPageSchema, NotifySchema, TargetCreatedSchema, TargetPageSchema,
)
from api.schemas import PageQuery
from orchestrator.services import notifications

blp = Blueprint("notifications", __name__,
                description="URLs told when executions end or wait for approval, and the deliveries made")


@blp.route("/workflows/<uuid:workflow_id>/notifications")
class Targets(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, TargetPageSchema)
    def get(self, query, workflow_id):
        """The URLs told about a workflow's executions, newest first"""
        with transaction() as session:
            return notifications.list_targets(session, keyring(), owner(), workflow_id, **query)

    @blp.arguments(NotifySchema)
    @blp.response(201, TargetCreatedSchema)
    def post(self, body, workflow_id):
        """Tell a URL when an execution of the workflow ends or waits for approval; its secret is in this answer only"""
        with transaction() as session:
            target, secret = notifications.create_target(session, keyring(), owner(), workflow_id, **body)
            audited(session, "notification.create", target, {"workflow_id": str(workflow_id), "url": target.url})
            return IssuedKey(target, secret)


@blp.route("/workflows/<uuid:workflow_id>/notifications/<uuid:target_id>", methods=["DELETE"])
@blp.response(204)
def delete_target(workflow_id, target_id):
    """Stop telling a URL; its deliveries go with it"""
    with transaction() as session:
        audited(session, "notification.delete", notifications.delete_target(session, owner(), workflow_id, target_id),
                {"workflow_id": str(workflow_id)})


@blp.route("/executions/<uuid:execution_id>/notifications")
@blp.arguments(PageQuery, location="query")
@blp.response(200, DeliveryPageSchema)
def deliveries(query, execution_id):
    """The notifications of an execution, newest first: status, attempts, the receiver's last answer, next attempt"""
    with transaction() as session:
        return notifications.list_deliveries(session, owner(), execution_id, **query)
