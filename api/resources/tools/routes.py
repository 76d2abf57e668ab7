"""Tools agents may call: created pending, approved or rejected by an admin."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import owner, transaction
from api.resources.tools.schemas import ToolChangeSchema, ToolCreateSchema, ToolPageSchema, ToolQuery, ToolSchema
from orchestrator.services import agents

blp = Blueprint("tools", __name__, description="Tools: an HTTP request or a workflow an agent may call")


@blp.route("/tools")
class Tools(MethodView):
    @blp.arguments(ToolQuery, location="query")
    @blp.response(200, ToolPageSchema)
    def get(self, query):
        """List your tools and the shared ones, newest first (an admin sees all)"""
        with transaction() as session:
            return agents.list_tools(session, owner(), **query)

    @blp.arguments(ToolCreateSchema)
    @blp.response(201, ToolSchema)
    def post(self, body):
        """Add a tool: pending until an admin approves it (an admin's own is approved)"""
        with transaction() as session:
            return agents.create_tool(session, owner(), **body)


@blp.route("/tools/<uuid:tool_id>")
class Tool(MethodView):
    @blp.response(200, ToolSchema)
    def get(self, tool_id):
        """Get a tool"""
        with transaction() as session:
            return agents.get_tool(session, owner(), tool_id)

    @blp.arguments(ToolChangeSchema)
    @blp.response(200, ToolSchema)
    def patch(self, body, tool_id):
        """Change your tool; a changed config, schema or visibility needs approval again"""
        with transaction() as session:
            return agents.update_tool(session, owner(), tool_id, **body)

    @blp.response(204)
    def delete(self, tool_id):
        """Delete your tool"""
        with transaction() as session:
            agents.delete_tool(session, owner(), tool_id)


@blp.route("/tools/<uuid:tool_id>/approve")
class ApproveTool(MethodView):
    @blp.response(200, ToolSchema)
    def post(self, tool_id):
        """Approve a tool (admins only: 403 otherwise)"""
        with transaction() as session:
            return agents.review_tool(session, owner(), tool_id, approved=True)


@blp.route("/tools/<uuid:tool_id>/reject")
class RejectTool(MethodView):
    @blp.response(200, ToolSchema)
    def post(self, tool_id):
        """Reject a tool (admins only: 403 otherwise); it no longer runs"""
        with transaction() as session:
            return agents.review_tool(session, owner(), tool_id, approved=False)
