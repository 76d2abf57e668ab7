"""Running a stored tool: find it for the owner (theirs, else a shared one), refuse it unless an
admin approved it, check the arguments against its ``input_schema``, then call it. An http tool
goes through ``safe_request`` (the address rule) with an ``Idempotency-Key``; a workflow tool is a
child execution, which the node asks the engine for."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from orchestrator.db import Tool
from orchestrator.llm.completion import schema_errors
from orchestrator.llm.redaction import Redactor
from orchestrator.nodes.base import CallRecord, ChildRun, NodeContext, NodeError
from orchestrator.agents.catalog import usable_tool
from orchestrator.security.network import RETRYABLE_CLIENT_ERRORS, NetworkError, decode_body, describe_url, \
    safe_request
from orchestrator.states import ToolKind, ToolStatus

DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    kind: str
    config: dict[str, Any]
    requires_approval: bool

    def as_function(self) -> dict[str, Any]:
        """How a model is offered it (see ``orchestrator.llm.clients.Request``)."""
        return {"name": self.name, "description": self.description, "parameters": self.input_schema}


def load_tool(ctx: NodeContext, name: str) -> ToolSpec:
    """The tool ``name`` the owner may run; a non-retryable NodeError saying why not otherwise."""
    with ctx.services.sessions() as session:
        tool: Tool | None = usable_tool(session, uuid.UUID(str(ctx.owner_id)), name)
        if tool is None:
            raise NodeError(f"no tool named {name!r} that you own or that is shared", retryable=False)
        if tool.status != ToolStatus.APPROVED:
            raise NodeError(f"tool {name!r} is {tool.status}, not approved: an admin must approve it before it runs",
                            retryable=False)
        return ToolSpec(tool.name, tool.description, tool.input_schema, tool.kind, tool.config,
                        tool.requires_approval)


def check_arguments(spec: ToolSpec, arguments: Any) -> None:
    errors = schema_errors(arguments, spec.input_schema)
    if errors:
        raise NodeError(f"arguments of tool {spec.name!r} do not match its input_schema: {'; '.join(errors)}",
                        retryable=False)


def child_run(spec: ToolSpec, arguments: dict[str, Any]) -> ChildRun:
    """A workflow tool's run: the workflow (id or name) with the arguments as its input."""
    return ChildRun(spec.config["workflow_id"], arguments)


def call_http(ctx: NodeContext, spec: ToolSpec, arguments: dict[str, Any]) -> Any:
    """The response's JSON (else its text); recorded as a ``tool`` call, redacted."""
    config = ctx.render({k: v for k, v in spec.config.items() if k in ("url", "headers", "json")},
                        arguments=arguments)
    headers = dict(config.get("headers") or {})
    if not any(k.lower() == "idempotency-key" for k in headers):
        headers["Idempotency-Key"] = ctx.idempotency_key
    body = None
    if config.get("json") is not None:
        body = json.dumps(config["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    redact = Redactor(headers.values())
    request = {"method": spec.config.get("method", "GET"), "url": describe_url(config["url"]),
               "arguments": redact(arguments)}
    started = time.monotonic()
    try:
        response = safe_request(spec.config.get("method", "GET"), config["url"],
                                allow_private=ctx.allow_private_network,
                                timeout=spec.config.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS),
                                headers=headers, body=body)
        if not 200 <= response.status_code < 300:
            code = response.status_code
            raise NodeError(f"tool {spec.name!r}: HTTP {code} {response.reason} from {describe_url(response.url)}",
                            retryable=not 400 <= code < 500 or code in RETRYABLE_CLIENT_ERRORS)
        decoded = decode_body(response)
    except (NodeError, NetworkError) as exc:
        _record(ctx, spec, "error", request, None, started, redact.text(str(exc)))
        raise NodeError(str(exc), retryable=exc.retryable) from None
    result = decoded.get("json", decoded.get("text"))
    _record(ctx, spec, "ok", request, redact(result), started, None)
    return result


def _record(ctx: NodeContext, spec: ToolSpec, status: str, request: Any, response: Any, started: float,
            error: str | None) -> None:
    ctx.record_call(CallRecord(kind="tool", target=spec.name, status=status, request=request, response=response,
                               latency_ms=int((time.monotonic() - started) * 1000), error=error,
                               meta={"kind": spec.kind, "turn": ctx.turn}))


def is_workflow(spec: ToolSpec) -> bool:
    return spec.kind == ToolKind.WORKFLOW
