"""Database layer: engine and sessions, and the models (one module per aggregate)."""
from orchestrator.db.accounts import ApiKey, User
from orchestrator.db.agents import Agent, Credential, Provider, Squad, SquadMember, Team, Tool
from orchestrator.db.base import Base
from orchestrator.db.executions import (
    A2AMessage,
    Execution,
    ExecutionEvent,
    ExecutionStep,
    HumanApproval,
    SharedContext,
    StepCall,
    StepCheckpoint,
    StructuredOutput,
)
from orchestrator.db.governance import AuditLog, License, UsageCounter
from orchestrator.db.llm import Endpoint, LedgerEntry, LLMModel, UsageMetric, WorkflowNodeHistory
from orchestrator.db.schedules import ScheduledWorkflow, ScheduleFire
from orchestrator.db.secrets import Secret
from orchestrator.db.workflows import Edge, Node, Workflow, WorkflowTemplate, WorkflowVersion

__all__ = [
    "A2AMessage", "Agent", "ApiKey", "AuditLog", "Base", "Credential", "Edge", "Endpoint", "Execution",
    "ExecutionEvent", "ExecutionStep", "HumanApproval", "LedgerEntry", "License", "LLMModel", "Node", "Provider", "ScheduleFire",
    "ScheduledWorkflow", "Secret", "SharedContext", "Squad", "SquadMember", "StepCall", "StepCheckpoint",
    "StructuredOutput", "Team", "Tool", "UsageCounter", "UsageMetric", "User", "Workflow", "WorkflowNodeHistory",
    "WorkflowTemplate", "WorkflowVersion",
]
