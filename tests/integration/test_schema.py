"""Constraints of the consolidated schema, on PostgreSQL and SQLite."""
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from orchestrator.crypto import load_keyring, seal_field
from orchestrator.db import (
    Edge, Execution, ExecutionStep, Node, ScheduledWorkflow, User, Workflow, WorkflowVersion,
)


def make_workflow(session, settings, owner=None):
    owner = owner or User(email=f"{uuid.uuid4().hex[:8]}@example.com")
    workflow = Workflow(name="wf")
    session.add(owner)
    session.flush()
    workflow.owner_id = owner.id
    version = WorkflowVersion(workflow=workflow, version=1, checksum="0" * 64)
    seal_field(load_keyring(settings), version, "definition", b'{"name": "wf"}')
    version.nodes.append(Node(node_id="a", type="noop", name="a"))
    version.nodes.append(Node(node_id="b", type="noop", name="b"))
    version.edges.append(Edge(source_node_id="a", target_node_id="b"))
    session.add_all([workflow, version])
    session.flush()
    return owner, workflow, version


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_check_constraint_rejects_a_bad_status(session, migrated_settings):
    _, workflow, version = make_workflow(session, migrated_settings)
    workflow.status = "sideways"
    with pytest.raises(IntegrityError, match="(?i)check"):
        session.flush()
    session.rollback()


def test_step_status_is_checked(session, migrated_settings):
    owner, workflow, version = make_workflow(session, migrated_settings)
    execution = Execution(workflow_id=workflow.id, workflow_version_id=version.id, version=1, owner_id=owner.id)
    session.add(execution)
    session.flush()
    session.add(ExecutionStep(execution_id=execution.id, node_id="a", node_type="noop", status="done"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_deleting_a_workflow_cascades_to_versions_nodes_edges_schedules(session, migrated_settings):
    owner, workflow, _ = make_workflow(session, migrated_settings)
    session.add(ScheduledWorkflow(workflow_id=workflow.id, owner_id=owner.id, cron_expression="* * * * *"))
    session.commit()
    assert count(session, Node) == 2 and count(session, Edge) == 1 and count(session, ScheduledWorkflow) == 1

    session.delete(workflow)
    session.commit()
    session.expunge_all()
    for model in (Workflow, WorkflowVersion, Node, Edge, ScheduledWorkflow):
        assert count(session, model) == 0, model.__tablename__
    assert count(session, User) == 1


def test_a_workflow_with_history_cannot_be_deleted_and_executions_cascade_to_steps(session, migrated_settings):
    owner, workflow, version = make_workflow(session, migrated_settings)
    execution = Execution(workflow_id=workflow.id, workflow_version_id=version.id, version=1, owner_id=owner.id)
    session.add(execution)
    session.flush()
    session.add(ExecutionStep(execution_id=execution.id, node_id="a", node_type="noop"))
    session.commit()

    session.delete(workflow)
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()

    session.delete(session.get(Execution, execution.id))
    session.commit()
    assert count(session, ExecutionStep) == 0
