"""Where a provider answers."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import owner, settings, transaction
from api.resources.endpoints.schemas import (
    EndpointChangeSchema, EndpointCreateSchema, EndpointPageSchema, EndpointSchema,
)
from api.schemas import PageQuery
from orchestrator.services import providers

blp = Blueprint("endpoints", __name__, description="A provider's endpoints: base URL, timeouts, retries")


@blp.route("/providers/<uuid:provider_id>/endpoints")
class Endpoints(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, EndpointPageSchema)
    def get(self, query, provider_id):
        """List a provider's endpoints, newest first"""
        with transaction() as session:
            return providers.list_endpoints(session, owner(), provider_id, **query)

    @blp.arguments(EndpointCreateSchema)
    @blp.response(201, EndpointSchema)
    def post(self, body, provider_id):
        """Add an endpoint; 422 for a private base_url unless ORCHESTRATOR_LLM_ALLOW_PRIVATE=1"""
        with transaction() as session:
            return providers.create_endpoint(session, settings(), owner(), provider_id, **body)


@blp.route("/endpoints/<uuid:endpoint_id>")
class Endpoint(MethodView):
    @blp.response(200, EndpointSchema)
    def get(self, endpoint_id):
        """Get an endpoint"""
        with transaction() as session:
            return providers.get_endpoint(session, owner(), endpoint_id)

    @blp.arguments(EndpointChangeSchema)
    @blp.response(200, EndpointSchema)
    def patch(self, body, endpoint_id):
        """Change an endpoint"""
        with transaction() as session:
            return providers.update_endpoint(session, settings(), owner(), endpoint_id, **body)

    @blp.response(204)
    def delete(self, endpoint_id):
        """Delete an endpoint"""
        with transaction() as session:
            providers.delete_endpoint(session, owner(), endpoint_id)
