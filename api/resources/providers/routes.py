"""Model providers of the caller."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import owner, transaction
from api.resources.providers.schemas import (
    ProviderChangeSchema, ProviderCreateSchema, ProviderPageSchema, ProviderQuery, ProviderSchema,
)
from orchestrator.services import providers

blp = Blueprint("providers", __name__, description="Model providers: OpenAI-compatible or Anthropic")


@blp.route("/providers")
class Providers(MethodView):
    @blp.arguments(ProviderQuery, location="query")
    @blp.response(200, ProviderPageSchema)
    def get(self, query):
        """List providers, newest first"""
        with transaction() as session:
            return providers.list_providers(session, owner(), **query)

    @blp.arguments(ProviderCreateSchema)
    @blp.response(201, ProviderSchema)
    def post(self, body):
        """Add a provider; 409 if the name is taken, 422 for bedrock (not supported yet)"""
        with transaction() as session:
            return providers.create_provider(session, owner(), **body)


@blp.route("/providers/<uuid:provider_id>")
class Provider(MethodView):
    @blp.response(200, ProviderSchema)
    def get(self, provider_id):
        """Get a provider"""
        with transaction() as session:
            return providers.get_provider(session, owner(), provider_id)

    @blp.arguments(ProviderChangeSchema)
    @blp.response(200, ProviderSchema)
    def patch(self, body, provider_id):
        """Change a provider"""
        with transaction() as session:
            return providers.update_provider(session, owner(), provider_id, **body)

    @blp.response(204)
    def delete(self, provider_id):
        """Delete a provider with its endpoints, credentials and models"""
        with transaction() as session:
            providers.delete_provider(session, owner(), provider_id)
