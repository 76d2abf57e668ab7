"""The caller's agents: what the ``agent`` node and teams run."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import owner, transaction
from api.resources.agents.schemas import AgentChangeSchema, AgentCreateSchema, AgentPageSchema, AgentQuery, AgentSchema
from orchestrator.services import agents

blp = Blueprint("agents", __name__, description="Agents: a model, instructions and tools, run by the agent node")


@blp.route("/agents")
class Agents(MethodView):
    @blp.arguments(AgentQuery, location="query")
    @blp.response(200, AgentPageSchema)
    def get(self, query):
        """List agents, newest first"""
        with transaction() as session:
            return agents.list_agents(session, owner(), **query)

    @blp.arguments(AgentCreateSchema)
    @blp.response(201, AgentSchema)
    def post(self, body):
        """Add an agent; 409 if the name is taken, 422 for an unknown tool"""
        with transaction() as session:
            return agents.create_agent(session, owner(), **body)


@blp.route("/agents/<uuid:agent_id>")
class Agent(MethodView):
    @blp.response(200, AgentSchema)
    def get(self, agent_id):
        """Get an agent"""
        with transaction() as session:
            return agents.get_agent(session, owner(), agent_id)

    @blp.arguments(AgentChangeSchema)
    @blp.response(200, AgentSchema)
    def patch(self, body, agent_id):
        """Change an agent"""
        with transaction() as session:
            return agents.update_agent(session, owner(), agent_id, **body)

    @blp.response(204)
    def delete(self, agent_id):
        """Delete an agent (it leaves its squads)"""
        with transaction() as session:
            agents.delete_agent(session, owner(), agent_id)
