"""A constructor per built-in node type, its config as typed keyword arguments (the same
names as in YAML; one left out, or None, is left out of the definition). ``node(id, type,
config)`` makes any other type."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Required, TypedDict

from orchestrator.sdk.builder import JSON, Node, given

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class Memory(TypedDict, total=False):
    key: Required[str]
    max_messages: int


class InlineAgent(TypedDict, total=False):
    model: Required[str]
    instructions: str
    tools: list[str]
    output_schema: dict[str, JSON]
    params: dict[str, JSON]


class AgentContext(TypedDict, total=False):
    read: list[str]
    write: str


class Approval(TypedDict, total=False):
    timeout_seconds: int
    approver_email: str


def noop(id: str) -> Node:
    return Node(id, "noop")


def transform(id: str, *, output: JSON) -> Node:
    """Renders ``output`` (templates see ``input``, ``nodes``, ``context``...)."""
    return Node(id, "transform", {"output": output})


def delay(id: str, *, seconds: float) -> Node:
    return Node(id, "delay", {"seconds": seconds})


def human_approval(id: str, *, approver_email: str | None = None, expires_in_seconds: int | None = None,
                   notify_url: str | None = None) -> Node:
    return Node(id, "human_approval", given(approver_email=approver_email, expires_in_seconds=expires_in_seconds,
                                            notify_url=notify_url))


def http_request(id: str, *, url: str, method: HttpMethod | None = None, headers: Mapping[str, str] | None = None,
                 json: JSON = None, body: str | None = None, timeout_seconds: float | None = None,
                 follow_redirects: bool | None = None, ok_statuses: Sequence[int] | None = None,
                 retry_statuses: Sequence[int] | None = None) -> Node:
    """``json``: the body as JSON (None: none); ``timeout_seconds``: the request's, not the attempt's."""
    return Node(id, "http_request", given(
        method=method, url=url, headers=headers, json=json, body=body, timeout_seconds=timeout_seconds,
        follow_redirects=follow_redirects, ok_statuses=ok_statuses, retry_statuses=retry_statuses))


def llm(id: str, *, model: str, prompt: str | None = None, messages: Sequence[Message] | None = None,
        system: str | None = None, fallbacks: Sequence[str] | None = None, params: Mapping[str, JSON] | None = None,
        output_schema: Mapping[str, JSON] | None = None, repair_attempts: int | None = None,
        stream: bool | None = None, memory: Memory | None = None) -> Node:
    """``model``: ``<provider name>/<model_id>``; ``prompt`` or ``messages``."""
    return Node(id, "llm", given(
        model=model, fallbacks=fallbacks, system=system, prompt=prompt, messages=messages, params=params,
        output_schema=output_schema, repair_attempts=repair_attempts, stream=stream, memory=memory))


def agent(id: str, *, agent: str | InlineAgent, prompt: str, max_iterations: int | None = None,
          output_schema: Mapping[str, JSON] | None = None, context: AgentContext | None = None,
          approval: Approval | None = None) -> Node:
    """``agent``: a stored agent's name, or an inline ``{model, instructions, tools}``."""
    return Node(id, "agent", given(agent=agent, prompt=prompt, max_iterations=max_iterations,
                                   output_schema=output_schema, context=context, approval=approval))


def tool(id: str, *, tool: str, arguments: Mapping[str, JSON] | None = None, approval: Approval | None = None) -> Node:
    return Node(id, "tool", given(tool=tool, arguments=arguments, approval=approval))


def team(id: str, *, team: str | Mapping[str, JSON], task: str, timeout_seconds: int | None = None,
         max_iterations: int | None = None) -> Node:
    """``team``: a stored team's name, or an inline ``topology_config``."""
    return Node(id, "team", given(team=team, task=task, timeout_seconds=timeout_seconds,
                                  max_iterations=max_iterations))


def subworkflow(id: str, *, workflow: str, input: JSON = None, version: int | None = None,
                for_each: str | Sequence[JSON] | None = None, max_concurrency: int | None = None) -> Node:
    """A child execution of ``workflow`` (a name or id); with ``for_each`` (a template giving a
    list, or a list) one child per item, whose ``input`` templates see ``item`` and ``index``."""
    return Node(id, "subworkflow", given(workflow=workflow, version=version, input=input, for_each=for_each,
                                         max_concurrency=max_concurrency))
