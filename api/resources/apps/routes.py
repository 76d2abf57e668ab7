"""Apps (seed 004): clients with keys of their own that run the published workflows of the
groups they are licensed for (under /api/v1/app, with an app key)."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint, conflict
from api.context import audited, owner, transaction
from api.resources.api_keys.schemas import IssuedKey, KeyCreateSchema
from api.resources.apps.schemas import (
    AppChangeSchema, AppCreateSchema, AppKeyCreatedSchema, AppKeyPageSchema, AppKeySchema,
    AppLicenseCreateSchema, AppLicensePageSchema, AppLicenseSchema, AppPageSchema, AppQuery, AppSchema,
)
from api.schemas import PageQuery
from orchestrator.services import apps

blp = Blueprint("apps", __name__, description="Apps, their keys, and their licenses to workflow groups")


@blp.route("/apps")
class Apps(MethodView):
    @blp.arguments(AppQuery, location="query")
    @blp.response(200, AppPageSchema)
    def get(self, query):
        """List your apps, newest first"""
        with transaction() as session:
            return apps.list_apps(session, owner(), **query)

    @blp.arguments(AppCreateSchema)
    @blp.response(201, AppSchema)
    @conflict("you have an app with that alias_id")
    def post(self, body):
        """Register an app; give it keys with POST /apps/{id}/keys and licenses with POST /apps/{id}/licenses"""
        with transaction() as session:
            app = apps.create_app(session, owner(), **body)
            return audited(session, "app.create", app, {"name": app.name, "alias_id": app.alias_id})


@blp.route("/apps/<uuid:app_id>")
class App(MethodView):
    @blp.response(200, AppSchema)
    def get(self, app_id):
        """Get an app"""
        with transaction() as session:
            return apps.get_app(session, owner(), app_id)

    @blp.arguments(AppChangeSchema)
    @blp.response(200, AppSchema)
    @conflict("you have an app with that alias_id")
    def patch(self, body, app_id):
        """Change an app: rename it, set its audit_policy, disable or enable it"""
        with transaction() as session:
            return audited(session, "app.update", apps.update_app(session, owner(), app_id, **body),
                           {k: v for k, v in body.items() if k in ("status", "audit_policy", "alias_id")})

    @blp.response(204)
    def delete(self, app_id):
        """Delete an app with its keys and licenses; the executions it started stay"""
        with transaction() as session:
            audited(session, "app.delete", apps.delete_app(session, owner(), app_id))


@blp.route("/apps/<uuid:app_id>/keys")
class Keys(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, AppKeyPageSchema)
    def get(self, query, app_id):
        """An app's keys, revoked ones too, newest first"""
        with transaction() as session:
            return apps.list_keys(session, owner(), app_id, **query)

    @blp.arguments(KeyCreateSchema)
    @blp.response(201, AppKeyCreatedSchema)
    def post(self, body, app_id):
        """Make a key for an app; the key is in this answer only"""
        with transaction() as session:
            key, plaintext = apps.issue_key(session, owner(), app_id, **body)
            audited(session, "app_key.create", key, {"app_id": str(app_id), "name": key.name})
            return IssuedKey(key, plaintext)


@blp.route("/apps/<uuid:app_id>/keys/<uuid:key_id>", methods=["DELETE"])
@blp.response(200, AppKeySchema)
def revoke_key(app_id, key_id):
    """Revoke an app's key: requests with it answer 401 from now on"""
    with transaction() as session:
        return audited(session, "app_key.revoke", apps.revoke_key(session, owner(), app_id, key_id),
                       {"app_id": str(app_id)})


@blp.route("/apps/<uuid:app_id>/licenses")
class Licenses(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, AppLicensePageSchema)
    def get(self, query, app_id):
        """The groups an app may run the published workflows of, newest first"""
        with transaction() as session:
            return apps.list_licenses(session, owner(), app_id, **query)

    @blp.arguments(AppLicenseCreateSchema)
    @blp.response(201, AppLicenseSchema)
    @conflict("the app already holds a license for this group")
    def post(self, body, app_id):
        """License an app for one of your workflow groups"""
        with transaction() as session:
            license = apps.grant(session, owner(), app_id, body["group_id"])
            return audited(session, "app_license.create", license,
                           {"app_id": str(app_id), "group_id": str(body["group_id"])})


@blp.route("/apps/<uuid:app_id>/licenses/<uuid:license_id>", methods=["DELETE"])
@blp.response(204)
def revoke_license(app_id, license_id):
    """Revoke an app's license: it can no longer submit executions of that group's workflows"""
    with transaction() as session:
        audited(session, "app_license.delete", apps.revoke_license(session, owner(), app_id, license_id),
                {"app_id": str(app_id)})
