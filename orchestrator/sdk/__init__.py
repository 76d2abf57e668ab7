"""Workflows in Python, and a typed client of the API.

    from orchestrator.sdk import Client, http_request, transform, workflow

    wf = workflow("hello", input_schema={"type": "object", "required": ["name"]})
    greet = wf.add(transform("greet", output={"text": "Hello, {{ input.name }}"}))
    with Client("http://127.0.0.1:8000", api_key) as client:
        saved = client.save(wf, publish=True)
        done = client.wait(client.submit(saved.id, {"name": "Ada"}).id, timeout=30)

``workflow(...).to_dict()`` is the same definition a YAML file holds; ``validate()`` checks it
here as the API does.
"""
from orchestrator.definitions import DefinitionError
from orchestrator.sdk.builder import JSON, Node, OnErrorPolicy, Workflow, node, workflow
from orchestrator.sdk.client import Client, Event, Execution, ExecutionRef, WaitTimeout, WorkflowInfo
from orchestrator.sdk.nodes import (
    AgentContext, Approval, InlineAgent, Memory, Message, agent, delay, http_request, human_approval, llm, noop,
    subworkflow, team, tool, transform,
)
from orchestrator.sdk.rest import ApiError

__all__ = [
    "AgentContext", "ApiError", "Approval", "Client", "DefinitionError", "Event", "Execution", "ExecutionRef",
    "InlineAgent", "JSON", "Memory", "Message", "Node", "OnErrorPolicy", "WaitTimeout", "Workflow", "WorkflowInfo",
    "agent", "delay", "http_request", "human_approval", "llm", "node", "noop", "subworkflow", "team", "tool",
    "transform", "workflow",
]
