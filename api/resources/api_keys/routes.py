"""The caller's own API keys: list, make (the key is shown once) and revoke."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import audited, owner, transaction
from api.resources.api_keys.schemas import (
    ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeyPageSchema, ApiKeyQuery, ApiKeySchema, IssuedKey,
)
from orchestrator.services import api_keys

blp = Blueprint("api_keys", __name__, description="The caller's API keys")


@blp.route("/api-keys")
class ApiKeys(MethodView):
    @blp.arguments(ApiKeyQuery, location="query")
    @blp.response(200, ApiKeyPageSchema)
    def get(self, query):
        """List your API keys, revoked ones too, newest first (an admin: everyone's with all=true)"""
        with transaction() as session:
            return api_keys.list_owner_api_keys(session, owner(), **query)

    @blp.arguments(ApiKeyCreateSchema)
    @blp.response(201, ApiKeyCreatedSchema)
    def post(self, body):
        """Make an API key for yourself (an admin: for any user); the key is in this answer only"""
        with transaction() as session:
            key, plaintext = api_keys.issue_api_key(session, owner(), **body)
            return IssuedKey(audited(session, "api_key.create", key, {"name": key.name, "user": key.user.email}),
                             plaintext)


@blp.route("/api-keys/<uuid:key_id>", methods=["DELETE"])
@blp.response(200, ApiKeySchema)
def revoke(key_id):
    """Revoke one of your API keys (the one in use too: later requests with it answer 401); an admin any key"""
    with transaction() as session:
        return audited(session, "api_key.revoke", api_keys.revoke_owner_api_key(session, owner(), key_id))
