"""The caller's squads: published groups of agents a team may draw its members from."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint
from api.context import owner, transaction
from api.resources.squads.schemas import (
    MemberCreateSchema, MemberListSchema, MemberSchema, SquadChangeSchema, SquadCreateSchema, SquadPageSchema,
    SquadQuery, SquadSchema,
)
from orchestrator.services import agents

blp = Blueprint("squads", __name__, description="Squads: agents with roles, published for teams")


@blp.route("/squads")
class Squads(MethodView):
    @blp.arguments(SquadQuery, location="query")
    @blp.response(200, SquadPageSchema)
    def get(self, query):
        """List squads, newest first"""
        with transaction() as session:
            return agents.list_squads(session, owner(), **query)

    @blp.arguments(SquadCreateSchema)
    @blp.response(201, SquadSchema)
    def post(self, body):
        """Add a squad (a draft until published)"""
        with transaction() as session:
            return agents.create_squad(session, owner(), **body)


@blp.route("/squads/<uuid:squad_id>")
class Squad(MethodView):
    @blp.response(200, SquadSchema)
    def get(self, squad_id):
        """Get a squad"""
        with transaction() as session:
            return agents.get_squad(session, owner(), squad_id)

    @blp.arguments(SquadChangeSchema)
    @blp.response(200, SquadSchema)
    def patch(self, body, squad_id):
        """Change a squad"""
        with transaction() as session:
            return agents.update_squad(session, owner(), squad_id, **body)

    @blp.response(204)
    def delete(self, squad_id):
        """Delete a squad with its memberships"""
        with transaction() as session:
            agents.delete_squad(session, owner(), squad_id)


@blp.route("/squads/<uuid:squad_id>/publish")
class Publish(MethodView):
    @blp.response(200, SquadSchema)
    def post(self, squad_id):
        """Publish: status active, published_at now; 409 without members"""
        with transaction() as session:
            return agents.publish_squad(session, owner(), squad_id)


@blp.route("/squads/<uuid:squad_id>/members")
class Members(MethodView):
    @blp.response(200, MemberListSchema)
    def get(self, squad_id):
        """List a squad's members in the order they joined"""
        with transaction() as session:
            return {"items": agents.list_members(session, owner(), squad_id)}

    @blp.arguments(MemberCreateSchema)
    @blp.response(201, MemberSchema)
    def post(self, body, squad_id):
        """Add one of your agents; 409 if it is in already or a second leader"""
        with transaction() as session:
            return agents.add_member(session, owner(), squad_id, **body)


@blp.route("/squads/<uuid:squad_id>/members/<uuid:agent_id>")
class Member(MethodView):
    @blp.response(204)
    def delete(self, squad_id, agent_id):
        """Remove an agent from the squad"""
        with transaction() as session:
            agents.remove_member(session, owner(), squad_id, agent_id)
