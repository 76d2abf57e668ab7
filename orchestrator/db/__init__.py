"""Database layer: engine and sessions, and the models (one module per aggregate)."""
from orchestrator.db.accounts import ApiKey, User
from orchestrator.db.agents import Agent, Credential, Provider, Squad, SquadMember
from orchestrator.db.base import Base
from orchestrator.db.executions import (
    A2AMessage,
    Execution,
    ExecutionEvent,
    ExecutionStep,
    HumanApproval,
    SharedContext,
    StructuredOutput,
)
from orchestrator.db.governance import AuditLog, License, UsageMetric
from orchestrator.db.schedules import ScheduledWorkflow, ScheduleFire
from orchestrator.db.workflows import Edge, Node, Workflow, WorkflowTemplate, WorkflowVersion

__all__ = [
    "A2AMessage", "Agent", "ApiKey", "AuditLog", "Base", "Credential", "Edge", "Execution", "ExecutionEvent",
    "ExecutionStep", "HumanApproval", "License", "Node", "Provider", "ScheduleFire", "ScheduledWorkflow",
    "SharedContext", "Squad", "SquadMember", "StructuredOutput", "UsageMetric", "User", "Workflow",
    "WorkflowTemplate", "WorkflowVersion",
]
