"""Every status the system knows, as data.

Code asks ``status in StepStatus.TERMINAL``; it never repeats lists of strings. The
transitions allowed between these states live in ``orchestrator.engine.transitions``.
"""
from __future__ import annotations

from enum import Enum


class _Status(str, Enum):
    def __str__(self) -> str:
        return self.value

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)


class ExecutionStatus(_Status):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class StepStatus(_Status):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class WorkflowStatus(_Status):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class WorkflowSource(_Status):
    NATIVE = "native"
    COZE = "coze"
    IMPORTED = "imported"


class EdgeOutcome(_Status):
    SUCCESS = "success"
    ERROR = "error"


class OnError(_Status):
    FAIL = "fail"
    CONTINUE = "continue"
    FAIL_BRANCH = "fail_branch"
    DEFAULT = "default"


class Trigger(_Status):
    API = "api"
    SCHEDULE = "schedule"
    CLI = "cli"
    RETRY = "retry"
    SUBWORKFLOW = "subworkflow"
    WEBHOOK = "webhook"


class ApprovalStatus(_Status):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class ScheduleStatus(_Status):
    ACTIVE = "active"
    PAUSED = "paused"


class MisfirePolicy(_Status):
    SKIP = "skip"
    RUN_ONCE = "run_once"


class SquadStatus(_Status):
    DRAFT = "draft"
    ACTIVE = "active"
    INACTIVE = "inactive"


class AgentStatus(_Status):
    ACTIVE = "active"
    ARCHIVED = "archived"


class ToolStatus(_Status):
    """Only approved tools run; an admin approves or rejects."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ToolVisibility(_Status):
    PRIVATE = "private"      # its owner's only
    SHARED = "shared"        # runs for every owner


class ToolKind(_Status):
    HTTP = "http"
    WORKFLOW = "workflow"


class TeamStatus(_Status):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Topology(_Status):
    SEQUENTIAL = "sequential"
    ROUND_ROBIN = "round_robin"
    SUPERVISOR = "supervisor"


class ProviderType(_Status):
    """Every type but ``anthropic`` (and ``bedrock``, not supported yet) speaks the OpenAI
    chat-completions protocol."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    AZURE = "azure"
    ALIYUN = "aliyun"
    BAIDU = "baidu"
    LOCAL = "local"
    BEDROCK = "bedrock"


class ModelStatus(_Status):
    AVAILABLE = "available"
    DEPRECATED = "deprecated"
    UNAVAILABLE = "unavailable"


class ModelType(_Status):
    CHAT = "chat"


class AppStatus(_Status):
    """An app's keys work only while it is active (seed 004 ai_app.status)."""

    ACTIVE = "active"
    DISABLED = "disabled"


class AuditPolicy(_Status):
    """What the audit log keeps of an app's calls (seed 004 ai_app.audit_policy): its changes
    (submissions), like every caller's, or its reads too."""

    CHANGES = "changes"
    ALL = "all"


class LineageKind(_Status):
    """What started an execution (seed 003 task_lineage): the row names its id."""

    API_KEY = "api_key"
    APP = "app"
    SCHEDULE = "schedule"
    PARENT = "parent"
    REPLAY = "replay"
    WEBHOOK = "webhook"


class ArtifactRef(_Status):
    """How an artifact is kept (seed 003 task_artifact_ref): its content, or a reference."""

    CONTENT = "content"
    URI = "uri"


class NotificationEvent(_Status):
    """What an outbound notification tells: an execution ended, or waits for a person."""

    COMPLETED = "execution.completed"
    FAILED = "execution.failed"
    CANCELLED = "execution.cancelled"
    TIMED_OUT = "execution.timed_out"
    APPROVAL_WAITING = "approval.waiting"


class DeliveryStatus(_Status):
    """A notification's delivery: due (at ``next_attempt_at``, or being sent), or done."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"       # the receiver refused it, or every attempt failed


class UsageKind(_Status):
    """What usage_counters counts, each over its own period."""

    EXECUTIONS = "executions"       # per minute


EXECUTION_TERMINAL = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.TIMED_OUT}
)
EXECUTION_ACTIVE = frozenset({ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.PAUSED})
STEP_TERMINAL = frozenset(
    {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED}
)
# Steps that hold or may soon hold a worker, or wait on the outside world.
STEP_OPEN = frozenset({StepStatus.PENDING, StepStatus.QUEUED, StepStatus.RUNNING, StepStatus.WAITING})

