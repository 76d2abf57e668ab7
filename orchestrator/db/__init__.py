"""Database layer: engine and sessions, and the models (one module per aggregate)."""
from orchestrator.db.accounts import ApiKey, User
from orchestrator.db.apps import App, AppKey, AppLicense, WorkflowGroup
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
from orchestrator.db.lineage import ExecutionArtifact, ExecutionLineage
from orchestrator.db.llm import Endpoint, LedgerEntry, LLMModel, UsageMetric, WorkflowNodeHistory
from orchestrator.db.schedules import ScheduledWorkflow, ScheduleFire
from orchestrator.db.secrets import Secret
from orchestrator.db.triggers import NotificationDelivery, NotificationTarget, Webhook, WebhookSignature
from orchestrator.db.workflows import Edge, Node, Workflow, WorkflowSnapshot, WorkflowTemplate, WorkflowVersion

__all__ = [
    "A2AMessage", "Agent", "ApiKey", "App", "AppKey", "AppLicense", "AuditLog", "Base", "Credential", "Edge",
    "Endpoint", "Execution", "ExecutionArtifact", "ExecutionEvent", "ExecutionLineage", "ExecutionStep",
    "HumanApproval", "LedgerEntry", "License", "LLMModel", "Node", "NotificationDelivery", "NotificationTarget",
    "Provider", "ScheduleFire", "ScheduledWorkflow", "Secret", "SharedContext", "Squad", "SquadMember", "StepCall",
    "StepCheckpoint", "StructuredOutput", "Team", "Tool", "UsageCounter", "UsageMetric", "User", "Webhook",
    "WebhookSignature", "Workflow", "WorkflowGroup", "WorkflowNodeHistory", "WorkflowSnapshot",
    "WorkflowTemplate", "WorkflowVersion",
]
