"""The built-in workflow templates, installed or updated by ``orchestrator db upgrade``. Each
takes its model as ``input.model`` (``<provider name>/<model_id>``; default ``default/chat``)."""
from __future__ import annotations

from typing import Any

MODEL = "{{ input.get('model', 'default/chat') }}"

BUILTIN_TEMPLATES: list[dict[str, Any]] = [
    {
        "name": "Research digest",
        "category": "research",
        "description": "Fetches a page (input.url) and has a model summarise it for a digest.",
        "definition": {
            "name": "research-digest",
            "input_schema": {"type": "object", "required": ["url"],
                             "properties": {"url": {"type": "string"}, "model": {"type": "string"}}},
            "nodes": [
                {"id": "fetch", "type": "http_request", "config": {"method": "GET", "url": "{{ input.url }}"},
                 "retry": {"max_attempts": 3}},
                {"id": "summarize", "type": "llm", "config": {
                    "model": MODEL, "system": "You write short, factual digests.",
                    "prompt": "Summarise in three sentences:\n{{ nodes.fetch.output.get('text') or nodes.fetch.output.get('json') }}"}},
            ],
            "edges": [{"source": "fetch", "target": "summarize"}],
            "output": {"digest": "{{ nodes.summarize.output.text }}", "source": "{{ input.url }}"},
        },
    },
    {
        "name": "Approval-gated publishing",
        "category": "publishing",
        "description": "A model drafts a post on input.topic; a person approves it; then it is POSTed to "
                       "input.publish_url.",
        "definition": {
            "name": "approval-gated-publishing",
            "input_schema": {"type": "object", "required": ["topic", "publish_url"],
                             "properties": {"topic": {"type": "string"}, "publish_url": {"type": "string"},
                                            "model": {"type": "string"}}},
            "nodes": [
                {"id": "draft", "type": "llm", "config": {"model": MODEL, "prompt": "Write a short post about "
                                                                                    "{{ input.topic }}."}},
                {"id": "review", "type": "human_approval", "config": {"expires_in_seconds": 86400}},
                {"id": "publish", "type": "http_request", "config": {
                    "method": "POST", "url": "{{ input.publish_url }}",
                    "json": {"topic": "{{ input.topic }}", "text": "{{ nodes.draft.output.text }}"}}},
            ],
            "edges": [{"source": "draft", "target": "review"}, {"source": "review", "target": "publish"}],
            "output": {"published": "{{ nodes.publish.output.status_code }}", "text": "{{ nodes.draft.output.text }}"},
        },
    },
    {
        "name": "Supervisor team Q&A",
        "category": "agents",
        "description": "A supervisor routes input.question between a researcher and a writer agent and "
                       "finishes with the team's answer.",
        "definition": {
            "name": "supervisor-team-qa",
            "input_schema": {"type": "object", "required": ["question"],
                             "properties": {"question": {"type": "string"}, "model": {"type": "string"}}},
            "nodes": [
                {"id": "team", "type": "team", "config": {
                    "task": "{{ input.question }}", "max_iterations": 4, "timeout_seconds": 600,
                    "team": {"type": "supervisor",
                             "supervisor": {"model": MODEL, "instructions": "Have the researcher gather facts, "
                                                                            "then the writer answer; then FINISH."},
                             "members": [
                                 {"name": "researcher", "agent": {"model": MODEL,
                                                                  "instructions": "Gather the relevant facts."}},
                                 {"name": "writer", "agent": {"model": MODEL,
                                                              "instructions": "Answer clearly from the facts."}},
                             ]}}},
            ],
            "output": {"answer": "{{ nodes.team.output.final }}", "stop_reason": "{{ nodes.team.output.stop_reason }}"},
        },
    },
    {
        "name": "Scheduled report",
        "category": "reporting",
        "description": "Reads a JSON source (input.source_url) and has a model write a short report; put it on a "
                       "cron schedule (POST /api/v1/workflows/{id}/schedules with this input).",
        "definition": {
            "name": "scheduled-report",
            "input_schema": {"type": "object", "required": ["source_url"],
                             "properties": {"source_url": {"type": "string"}, "model": {"type": "string"}}},
            "nodes": [
                {"id": "collect", "type": "http_request", "config": {"method": "GET", "url": "{{ input.source_url }}"},
                 "retry": {"max_attempts": 3}},
                {"id": "report", "type": "llm", "config": {
                    "model": MODEL, "system": "You write brief status reports.",
                    "prompt": "Write a report ({{ execution.trigger }} run) on this data:\n"
                              "{{ nodes.collect.output.get('json') or nodes.collect.output.get('text') }}"}},
            ],
            "edges": [{"source": "collect", "target": "report"}],
            "output": {"report": "{{ nodes.report.output.text }}"},
        },
    },
]
