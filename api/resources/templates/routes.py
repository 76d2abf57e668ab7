"""Workflow templates: the built-in ones and the caller's; instantiate makes a workflow."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import keyring, owner, transaction
from api.resources.templates.schemas import (
    InstantiatedSchema, InstantiateSchema, TemplateCreateSchema, TemplatePageSchema, TemplateQuery, TemplateSchema,
)
from orchestrator.services import templates

blp = Blueprint("templates", __name__, description="Workflow templates, built-in and your own")


@blp.route("/templates")
class Templates(MethodView):
    @blp.arguments(TemplateQuery, location="query")
    @blp.response(200, TemplatePageSchema)
    def get(self, query):
        """List the built-in templates and yours, newest first"""
        with transaction() as session:
            return templates.list_templates(session, owner(), **query)

    @blp.arguments(TemplateCreateSchema)
    @blp.response(201, TemplateSchema)
    def post(self, body):
        """Add a template; its definition must be a valid workflow"""
        with transaction() as session:
            return templates.create_template(session, owner(), **body)


@blp.route("/templates/<uuid:template_id>")
class Template(MethodView):
    @blp.response(200, TemplateSchema)
    def get(self, template_id):
        """Get a template"""
        with transaction() as session:
            return templates.get_template(session, owner(), template_id)

    @blp.response(204)
    def delete(self, template_id):
        """Delete your template (built-in ones stay)"""
        with transaction() as session:
            templates.delete_template(session, owner(), template_id)


@blp.route("/templates/<uuid:template_id>/instantiate")
class Instantiate(MethodView):
    @blp.arguments(InstantiateSchema)
    @blp.response(201, InstantiatedSchema)
    def post(self, body, template_id):
        """Make a draft workflow from the template; counts its usage_count"""
        with transaction() as session:
            return templates.instantiate(session, keyring(), owner(), template_id, **body)
