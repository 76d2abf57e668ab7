"""The caller's teams: agents in a topology, run by the ``team`` node."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import owner, transaction
from api.resources.teams.schemas import TeamChangeSchema, TeamCreateSchema, TeamPageSchema, TeamQuery, TeamSchema
from orchestrator.services import agents

blp = Blueprint("teams", __name__, description="Teams: agents working in a sequential, round-robin or "
                                               "supervised topology")


@blp.route("/teams")
class Teams(MethodView):
    @blp.arguments(TeamQuery, location="query")
    @blp.response(200, TeamPageSchema)
    def get(self, query):
        """List teams, newest first"""
        with transaction() as session:
            return agents.list_teams(session, owner(), **query)

    @blp.arguments(TeamCreateSchema)
    @blp.response(201, TeamSchema)
    def post(self, body):
        """Add a team; 422 names an unknown member, an empty team or a supervisor without a model"""
        with transaction() as session:
            return agents.create_team(session, owner(), **body)


@blp.route("/teams/<uuid:team_id>")
class Team(MethodView):
    @blp.response(200, TeamSchema)
    def get(self, team_id):
        """Get a team"""
        with transaction() as session:
            return agents.get_team(session, owner(), team_id)

    @blp.arguments(TeamChangeSchema)
    @blp.response(200, TeamSchema)
    def patch(self, body, team_id):
        """Change a team"""
        with transaction() as session:
            return agents.update_team(session, owner(), team_id, **body)

    @blp.response(204)
    def delete(self, team_id):
        """Delete a team"""
        with transaction() as session:
            agents.delete_team(session, owner(), team_id)
