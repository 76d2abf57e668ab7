"""Governance: the audit log, licenses to run another owner's workflow, and per-user limits."""
from __future__ import annotations

from api.blueprint import Blueprint, conflict
from api.context import audited, owner, transaction
from api.resources.governance.schemas import (
    AuditLogPageSchema, AuditQuery, LicenseCreateSchema, LicensePageSchema, LicenseSchema, LimitsSchema,
    UserLimitsSchema,
)
from api.schemas import PageQuery
from orchestrator.services import audit, licenses, limits

blp = Blueprint("governance", __name__, description="Audit log, licenses and limits")


@blp.route("/audit-logs")
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditLogPageSchema)
def audit_logs(query):
    """Changes made through the API and the CLI, newest first (an admin sees everyone's)"""
    with transaction() as session:
        return audit.list_audit_logs(session, owner(), **query)


@blp.route("/workflows/<uuid:workflow_id>/licenses", methods=["POST"])
@blp.arguments(LicenseCreateSchema)
@blp.response(201, LicenseSchema)
@conflict("the user already holds a license for this workflow")
def grant_license(body, workflow_id):
    """Let another user run this workflow: submit executions and read the ones they submitted"""
    with transaction() as session:
        license = licenses.grant(session, owner(), workflow_id, body["user_email"])
        return audited(session, "license.create", license, {"workflow_id": str(workflow_id),
                                                            "user_email": body["user_email"]})


@blp.route("/workflows/<uuid:workflow_id>/licenses")
@blp.arguments(PageQuery, location="query")
@blp.response(200, LicensePageSchema)
def list_licenses(query, workflow_id):
    """Who may run this workflow, newest first"""
    with transaction() as session:
        return licenses.list_licenses(session, owner(), workflow_id, **query)


@blp.route("/workflows/<uuid:workflow_id>/licenses/<uuid:license_id>", methods=["DELETE"])
@blp.response(204)
def revoke_license(workflow_id, license_id):
    """Revoke a license: the user can no longer submit executions of this workflow"""
    with transaction() as session:
        audited(session, "license.delete", licenses.revoke(session, owner(), workflow_id, license_id),
                {"workflow_id": str(workflow_id)})


@blp.route("/users/<uuid:user_id>/limits", methods=["PUT"])
@blp.arguments(LimitsSchema)
@blp.response(200, UserLimitsSchema)
@blp.doc(responses={"403": "FORBIDDEN"})
def set_limits(body, user_id):
    """Set a user's limits (admin)"""
    with transaction() as session:
        user = limits.set_limits(session, owner(), user_id, **body)
        return audited(session, "user.limits", user, {k: None if v is None else str(v) for k, v in body.items()})
