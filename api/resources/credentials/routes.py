"""A provider's API keys, sealed at rest."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import keyring, owner, transaction
from api.resources.credentials.schemas import (
    CredentialChangeSchema, CredentialCreateSchema, CredentialPageSchema, CredentialSchema,
)
from api.schemas import PageQuery
from orchestrator.services import providers

blp = Blueprint("credentials", __name__, description="A provider's API keys: sealed, rotated, rate limited")


@blp.route("/providers/<uuid:provider_id>/credentials")
class Credentials(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, CredentialPageSchema)
    def get(self, query, provider_id):
        """List a provider's credentials, newest first (never their keys)"""
        with transaction() as session:
            return providers.list_credentials(session, owner(), provider_id, **query)

    @blp.arguments(CredentialCreateSchema)
    @blp.response(201, CredentialSchema)
    def post(self, body, provider_id):
        """Add a credential; the answer shows key_hint, never the key"""
        with transaction() as session:
            return providers.create_credential(session, keyring(), owner(), provider_id, **body)


@blp.route("/credentials/<uuid:credential_id>")
class Credential(MethodView):
    @blp.response(200, CredentialSchema)
    def get(self, credential_id):
        """Get a credential (never its key)"""
        with transaction() as session:
            return providers.get_credential(session, owner(), credential_id)

    @blp.arguments(CredentialChangeSchema)
    @blp.response(200, CredentialSchema)
    def patch(self, body, credential_id):
        """Change a credential, or replace its key"""
        with transaction() as session:
            return providers.update_credential(session, keyring(), owner(), credential_id, **body)

    @blp.response(204)
    def delete(self, credential_id):
        """Delete a credential"""
        with transaction() as session:
            providers.delete_credential(session, owner(), credential_id)
