"""A typed client of the REST API: workflows created, updated and published, executions
submitted, waited for, followed and cancelled, each answer a dataclass. It sends through the
same REST client as the CLI (``orchestrator.sdk.rest``); ``client.rest`` reaches the rest of
the API untyped."""
from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from orchestrator.definitions import WorkflowDefinition, parse_definition
from orchestrator.sdk.builder import JSON, Workflow, plain
from orchestrator.sdk.rest import RestClient, Row
from orchestrator.states import EXECUTION_TERMINAL, ExecutionStatus

# How often ``wait`` asks: at first soon, then at most this often.
FIRST_POLL_SECONDS = 0.05
MAX_POLL_SECONDS = 1.0


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class WorkflowInfo:
    id: str
    name: str
    status: str
    latest_version: int
    published_version: int | None

    @classmethod
    def from_api(cls, row: Row) -> WorkflowInfo:
        return cls(row["id"], row["name"], row["status"], row["latest_version"], row.get("published_version"))


@dataclass(frozen=True)
class ExecutionRef:
    """An execution as a submission or a control answers it (for a repeated idempotency key,
    the first one) and, submitted with ``notify_url``, the secret its notifications are signed with."""

    id: str
    status: ExecutionStatus
    notification_secret: str | None = None


@dataclass(frozen=True)
class Execution:
    id: str
    workflow_id: str
    version: int
    status: ExecutionStatus
    trigger: str
    input: Any
    output: Any
    error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    duration_ms: int | None

    @property
    def ended(self) -> bool:
        return self.status in EXECUTION_TERMINAL

    @classmethod
    def from_api(cls, row: Row) -> Execution:
        return cls(row["id"], row["workflow_id"], row["version"], ExecutionStatus(row["status"]), row["trigger"],
                   row["input"], row["output"], row["error"], datetime.fromisoformat(row["created_at"]),
                   _time(row["started_at"]), _time(row["completed_at"]), row["duration_ms"])


@dataclass(frozen=True)
class Event:
    seq: int
    event_type: str
    node_id: str | None
    attempt: int | None
    message: str | None
    data: Any
    created_at: datetime

    @classmethod
    def from_api(cls, row: Row) -> Event:
        return cls(row["seq"], row["event_type"], row["node_id"], row["attempt"], row["message"], row["data"],
                   datetime.fromisoformat(row["created_at"]))


class WaitTimeout(TimeoutError):
    """``wait`` ran out of time; ``execution`` is how it was last seen."""

    def __init__(self, execution: Execution, seconds: float):
        super().__init__(f"execution {execution.id} is still {execution.status.value} after {seconds:g} s")
        self.execution = execution


class Client:
    """``Client(url, api_key)``; use it in a ``with`` block, or ``close()`` it."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0) -> None:
        self.rest = RestClient(url, api_key, timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.rest.close()

    # -- workflows ------------------------------------------------------------------------

    def save(self, workflow: Workflow | Mapping[str, Any], *, publish: bool = False) -> WorkflowInfo:
        """Create the workflow, or add a version to the one of its name when the definition
        changed; checked here first (``DefinitionError`` names each problem). ``publish``:
        executions then run this version."""
        definition, document = _checked(workflow)
        workflow_id, version = self.rest.save_workflow(definition, document)
        if publish:
            return self.publish(workflow_id, version)
        return WorkflowInfo.from_api(self.rest.call("GET", f"/workflows/{workflow_id}"))

    def create_workflow(self, workflow: Workflow | Mapping[str, Any], *, name: str | None = None,
                        description: str | None = None) -> WorkflowInfo:
        _, document = _checked(workflow)
        body = {"definition": document, **{k: v for k, v in (("name", name), ("description", description)) if v}}
        return WorkflowInfo.from_api(self.rest.call("POST", "/workflows", json=body))

    def update_workflow(self, workflow_id: str, workflow: Workflow | Mapping[str, Any]) -> WorkflowInfo:
        """A new version of the workflow."""
        _, document = _checked(workflow)
        return WorkflowInfo.from_api(self.rest.call("PUT", f"/workflows/{workflow_id}", json={"definition": document}))

    def publish(self, workflow_id: str, version: int | None = None) -> WorkflowInfo:
        body = {} if version is None else {"version": version}
        return WorkflowInfo.from_api(self.rest.call("POST", f"/workflows/{workflow_id}/publish", json=body))

    # -- executions -----------------------------------------------------------------------

    def submit(self, workflow_id: str, input: Mapping[str, JSON] | None = None, *, version: int | None = None,
               idempotency_key: str | None = None, notify_url: str | None = None,
               notify_events: Sequence[str] | None = None) -> ExecutionRef:
        """Start an execution (the published version unless ``version``). The same
        ``idempotency_key`` with the same request answers the first execution. ``notify_url``
        is called when this execution ends or waits for approval (``notify_events``: which)."""
        body: Row = {"input": plain(input or {})}
        if version is not None:
            body["version"] = version
        if notify_url is not None:
            body["notify"] = {"url": notify_url, **({"events": list(notify_events)} if notify_events else {})}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        answer = self.rest.call("POST", f"/workflows/{workflow_id}/executions", json=body, headers=headers)
        return ExecutionRef(answer["id"], ExecutionStatus(answer["status"]), answer.get("notification_secret"))

    def execution(self, execution_id: str) -> Execution:
        return Execution.from_api(self.rest.call("GET", f"/executions/{execution_id}"))

    def wait(self, execution_id: str, *, timeout: float = 60.0) -> Execution:
        """The execution once it has ended; ``WaitTimeout`` after ``timeout`` seconds."""
        deadline, pause = time.monotonic() + timeout, FIRST_POLL_SECONDS
        while True:
            execution = self.execution(execution_id)
            left = deadline - time.monotonic()
            if execution.ended:
                return execution
            if left <= 0:
                raise WaitTimeout(execution, timeout)
            time.sleep(min(pause, left))
            pause = min(MAX_POLL_SECONDS, pause * 2)

    def events(self, execution_id: str, *, after: int = 0) -> Iterator[Event]:
        """Its events after ``after`` as they are committed (the API's event stream), until it ends."""
        for row in self.rest.events(execution_id, after):
            yield Event.from_api(row)

    def cancel(self, execution_id: str) -> ExecutionRef:
        answer = self.rest.call("POST", f"/executions/{execution_id}/cancel")
        return ExecutionRef(answer["id"], ExecutionStatus(answer["status"]))


def _checked(workflow: Workflow | Mapping[str, Any]) -> tuple[WorkflowDefinition, dict[str, Any]]:
    """The definition, validated here as the API will, and the document to send."""
    document = workflow.to_dict() if isinstance(workflow, Workflow) else plain(workflow)
    return parse_definition(document), document
