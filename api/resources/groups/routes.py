"""Workflow groups: an owner's named sets of workflows, which apps are licensed to run."""
from __future__ import annotations

from flask.views import MethodView

from api.blueprint import Blueprint, conflict
from api.context import audited, owner, transaction
from api.resources.groups.schemas import GroupChangeSchema, GroupCreateSchema, GroupPageSchema, GroupSchema, GroupMemberSchema
from api.resources.workflows.schemas import WorkflowPageSchema, WorkflowSchema
from api.schemas import PageQuery
from orchestrator.services import audit, groups

blp = Blueprint("groups", __name__, description="Workflow groups: what an app may be licensed to run")


@blp.route("/groups")
class Groups(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, GroupPageSchema)
    def get(self, query):
        """List your workflow groups, newest first"""
        with transaction() as session:
            return groups.list_groups(session, owner(), **query)

    @blp.arguments(GroupCreateSchema)
    @blp.response(201, GroupSchema)
    @conflict("you have a group of that name")
    def post(self, body):
        """Make a workflow group"""
        with transaction() as session:
            return audited(session, "group.create", groups.create_group(session, owner(), **body), {"name": body["name"]})


@blp.route("/groups/<uuid:group_id>")
class Group(MethodView):
    @blp.response(200, GroupSchema)
    def get(self, group_id):
        """Get a workflow group"""
        with transaction() as session:
            return groups.get_group(session, owner(), group_id)

    @blp.arguments(GroupChangeSchema)
    @blp.response(200, GroupSchema)
    @conflict("you have a group of that name")
    def patch(self, body, group_id):
        """Rename or describe a workflow group"""
        with transaction() as session:
            return audited(session, "group.update", groups.update_group(session, owner(), group_id, **body),
                           {"fields": sorted(body)})

    @blp.response(204)
    def delete(self, group_id):
        """Delete a workflow group: its workflows stay, in no group; its apps' licenses go"""
        with transaction() as session:
            audited(session, "group.delete", groups.delete_group(session, owner(), group_id))


@blp.route("/groups/<uuid:group_id>/workflows")
class Members(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, WorkflowPageSchema)
    def get(self, query, group_id):
        """The workflows in a group, newest first"""
        with transaction() as session:
            return groups.list_workflows(session, owner(), group_id, **query)

    @blp.arguments(GroupMemberSchema)
    @blp.response(200, WorkflowSchema)
    @conflict("the workflow is in another group")
    def post(self, body, group_id):
        """Put one of your workflows in the group (a workflow is in one group at most)"""
        with transaction() as session:
            workflow = groups.add_workflow(session, owner(), group_id, body["workflow_id"])
            audit.record(session, "group.add_workflow", "group", group_id, {"workflow_id": str(workflow.id)})
            return workflow


@blp.route("/groups/<uuid:group_id>/workflows/<uuid:workflow_id>", methods=["DELETE"])
@blp.response(200, WorkflowSchema)
def remove(group_id, workflow_id):
    """Take a workflow out of the group"""
    with transaction() as session:
        workflow = groups.remove_workflow(session, owner(), group_id, workflow_id)
        audit.record(session, "group.remove_workflow", "group", group_id, {"workflow_id": str(workflow_id)})
        return workflow
