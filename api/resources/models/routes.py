"""The models a provider serves, with their prices."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import owner, transaction
from api.resources.models.schemas import ModelChangeSchema, ModelCreateSchema, ModelPageSchema, ModelSchema
from api.schemas import PageQuery
from orchestrator.services import providers

blp = Blueprint("models", __name__, description="A provider's models and their prices per 1,000 tokens")


@blp.route("/providers/<uuid:provider_id>/models")
class Models(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, ModelPageSchema)
    def get(self, query, provider_id):
        """List a provider's models, newest first"""
        with transaction() as session:
            return providers.list_models(session, owner(), provider_id, **query)

    @blp.arguments(ModelCreateSchema)
    @blp.response(201, ModelSchema)
    def post(self, body, provider_id):
        """Add a model; 409 if the provider has it already"""
        with transaction() as session:
            return providers.create_model(session, owner(), provider_id, **body)


@blp.route("/models/<uuid:model_id>")
class Model(MethodView):
    @blp.response(200, ModelSchema)
    def get(self, model_id):
        """Get a model"""
        with transaction() as session:
            return providers.get_model(session, owner(), model_id)

    @blp.arguments(ModelChangeSchema)
    @blp.response(200, ModelSchema)
    def patch(self, body, model_id):
        """Change a model (its prices, its status)"""
        with transaction() as session:
            return providers.update_model(session, owner(), model_id, **body)

    @blp.response(204)
    def delete(self, model_id):
        """Delete a model"""
        with transaction() as session:
            providers.delete_model(session, owner(), model_id)
