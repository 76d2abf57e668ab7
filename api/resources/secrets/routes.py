"""The caller's secrets: set (create or replace), list names, delete. Values are never returned."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import keyring, owner, transaction
from api.resources.secrets.schemas import SecretPageSchema, SecretSchema, SecretSetSchema
from api.schemas import PageQuery
from orchestrator.services import secrets

blp = Blueprint("secrets", __name__, description="Values that templates read as {{ secrets.NAME }}")


@blp.route("/secrets")
class Secrets(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, SecretPageSchema)
    def get(self, query):
        """List your secrets' names, newest first (values are never returned)"""
        with transaction() as session:
            return secrets.list_secrets(session, owner(), **query)

    @blp.arguments(SecretSetSchema)
    @blp.response(201, SecretSchema)
    @blp.alt_response(200, schema=SecretSchema, description="An existing secret's value was replaced")
    def post(self, body):
        """Create a secret, or replace the value of the one with this name"""
        with transaction() as session:
            secret, created = secrets.put_secret(session, keyring(), owner(), **body)
            return secret, 201 if created else 200


@blp.route("/secrets/<string(maxlength=100):name>", methods=["DELETE"])
@blp.response(204)
def delete(name):
    """Delete a secret; templates that name it fail from then on"""
    with transaction() as session:
        secrets.delete_secret(session, owner(), name)
