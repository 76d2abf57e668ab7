"""Workflows in Python: the builder makes the document the YAML examples hold, checked as
the API checks it; each constructor takes exactly its node type's config fields."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml

from orchestrator.definitions import load_document, parse_definition
from orchestrator.nodes.registry import config_schema_of, get_node_type
from orchestrator.sdk import (
    DefinitionError, agent, delay, http_request, human_approval, llm, node, noop, subworkflow, team, tool, transform,
    workflow,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONSTRUCTORS = [agent, delay, http_request, human_approval, llm, noop, subworkflow, team, tool, transform]


def same_as_example(wf, name: str) -> None:
    """The builder's document is the YAML file's, and both parse to equal definitions."""
    text = (EXAMPLES / name).read_text()
    assert wf.to_dict() == load_document(text)
    assert wf.validate() == parse_definition(text)
    assert yaml.safe_load(wf.to_yaml()) == load_document(text)


def test_digest_a_fan_out_and_fan_in():
    wf = workflow("research-digest", description="Read articles on several topics in parallel and write a digest",
                  timeout_seconds=120, input_schema={"type": "object", "required": ["base_url"],
                                                     "properties": {"base_url": {"type": "string"}}})
    topics = ("agents", "python", "databases")
    fetches = [wf.add(http_request(topic, url=f"{{{{ input.base_url }}}}/articles?topic={topic}", timeout_seconds=5)
                      .retry(max_attempts=3, backoff_seconds=0.5)) for topic in topics]
    articles = " + ".join(f"nodes.{topic}.output.json.articles" for topic in topics)
    digest = wf.add(transform("digest", output={
        "topics": f"{{{{ [{', '.join(f'nodes.{topic}.output.json.topic' for topic in topics)}] }}}}",
        "articles": f"{{{{ ({articles}) | length }}}}",
        "words": f"{{{{ ({articles}) | sum(attribute='words') }}}}",
        "headline": f"{{{{ ({articles}) | sort(attribute='words', reverse=true) | map(attribute='title') | first }}}}",
    }))
    assert (fetches >> digest) is digest
    wf.output = {"digest": "{{ nodes.digest.output }}"}
    same_as_example(wf, "digest.yaml")


def test_approval_with_an_error_branch():
    wf = workflow("publish-with-approval", description="Draft, ask a human, then publish or archive",
                  timeout_seconds=3600)
    draft = wf.add(transform("draft", output={"title": "{{ input.title | default('Weekly digest') }}",
                                              "status": "draft"}))
    review = draft >> human_approval("review", expires_in_seconds=600)
    review >> transform("publish", output={"title": "{{ nodes.draft.output.title }}", "status": "published",
                                           "approval": "{{ nodes.review.output }}"})
    review.on_failure(transform("archive", output={"title": "{{ nodes.draft.output.title }}", "status": "archived"}))
    same_as_example(wf, "approval.yaml")


def test_retries_with_backoff_and_a_fallback():
    wf = workflow("retrying-fetch", description="Fetch with retries and a fallback branch", timeout_seconds=120)
    fetch = wf.add(http_request(
        "fetch", url="{{ input.base_url }}/flaky?key={{ execution.id }}&fail={{ input.failures | default(2) }}",
        timeout_seconds=5).retry(max_attempts=3, backoff_seconds=0.5, backoff_factor=2).on_error("fail_branch"))
    fetch.then(transform("report", output={"source": "live",
                                           "answered_on_attempt": "{{ nodes.fetch.output.json.hit }}"}))
    fetch.on_failure(transform("fallback", output={"source": "cache", "reason": "upstream unavailable"}))
    same_as_example(wf, "retrying_fetch.yaml")


def test_a_map_with_a_shared_context():
    wf = workflow("topic-map", input_schema={"type": "object", "required": ["base_url"], "properties": {
        "base_url": {"type": "string"}, "topics": {"type": "array", "items": {"type": "string"}}}})
    per_topic = wf.add(subworkflow(
        "per_topic", workflow="topic-summary", for_each="{{ input.get('topics') or ['agents', 'python', 'databases'] }}",
        max_concurrency=2, input={"base_url": "{{ input.base_url }}", "topic": "{{ item }}"},
    ).write_context("totals", {"words": "{{ output.outputs | sum(attribute='words') }}"}))
    per_topic >> transform("report", output={
        "topics": "{{ nodes.per_topic.output.outputs | map(attribute='topic') | list }}",
        "articles": "{{ nodes.per_topic.output.outputs | sum(attribute='articles') }}",
        "words": "{{ context.totals.words }}"})
    wf.output = "{{ nodes.report.output }}"
    same_as_example(wf, "topic_map.yaml")


def test_model_calls_with_structured_output():
    wf = workflow("llm-digest", description="Summarise articles on three topics with a model, then join the summaries",
                  timeout_seconds=300, input_schema={"type": "object", "required": ["base_url"], "properties": {
                      "base_url": {"type": "string"},
                      "model": {"type": "string", "description": "<provider name>/<model_id>; default offline/digest-1"}}})
    topics = ("agents", "python", "databases")
    fetches = [wf.add(http_request(t, url=f"{{{{ input.base_url }}}}/articles?topic={t}", timeout_seconds=5))
               for t in topics]
    schema = {"type": "object", "required": ["headline", "takeaway"], "properties": {
        "headline": {"type": "string", "minLength": 3, "maxLength": 120}, "takeaway": {"type": "string", "minLength": 3}}}
    summaries = [wf.add(llm(f"summarise_{t}", model="{{ input.model | default('offline/digest-1') }}",
                            system="You write one-line digests of article lists for busy engineers.",
                            prompt=f"Articles on {{{{ nodes.{t}.output.json.topic }}}}: "
                                   f"{{{{ nodes.{t}.output.json.articles | tojson }}}}",
                            params={"temperature": 0, "max_tokens": 300}, output_schema=schema, repair_attempts=1)
                        .retry(max_attempts=2, backoff_seconds=1)) for t in topics]
    for fetch, summary in zip(fetches, summaries, strict=True):
        fetch >> summary
    summaries >> transform("digest", output={
        "headlines": "{{ [" + ", ".join(f"nodes.summarise_{t}.output.structured.headline" for t in topics) + "] }}",
        "tokens": "{{ " + " + ".join(f"nodes.summarise_{t}.output.usage.total_tokens" for t in topics) + " }}",
        "model": "{{ nodes.summarise_agents.output.model.provider }}/{{ nodes.summarise_agents.output.model.model_id }}"})
    wf.output = {"digest": "{{ nodes.digest.output }}"}
    same_as_example(wf, "llm_digest.yaml")


def test_an_agent_and_a_team():
    research = workflow("agent-example", timeout_seconds=120,
                        description="The researcher agent checks the news service, reads the articles and answers")
    research.add(agent("research", agent="researcher", prompt="{{ input.question | default('What is new on agents?') }}",
                       max_iterations=5))
    research.output = {"answer": "{{ nodes.research.output.text }}",
                       "tool_calls": "{{ nodes.research.output.tool_calls }}",
                       "iterations": "{{ nodes.research.output.iterations }}",
                       "tokens": "{{ nodes.research.output.usage.total_tokens }}"}
    same_as_example(research, "agent.yaml")
    newsroom = workflow("team-example", timeout_seconds=300, description=(
        "The newsroom team answers a question; its hand-overs are in GET /executions/{id}/messages"))
    newsroom.add(team("newsroom", team="newsroom", task="{{ input.question | default('Brief me on what is new on agents.') }}"))
    newsroom.output = {"brief": "{{ nodes.newsroom.output.final }}",
                       "stop_reason": "{{ nodes.newsroom.output.stop_reason }}",
                       "member_turns": "{{ nodes.newsroom.output.iterations }}",
                       "tokens": "{{ nodes.newsroom.output.usage.total_tokens }}"}
    same_as_example(newsroom, "team.yaml")


@pytest.mark.parametrize("constructor", CONSTRUCTORS, ids=lambda c: c.__name__)
def test_each_constructor_takes_its_node_types_config_fields(constructor):
    """A field added to a node type's schema is missed here until the constructor takes it."""
    schema = config_schema_of(get_node_type(constructor.__name__))
    fields = {field.data_key or name for name, field in schema.fields.items()}
    parameters = set(inspect.signature(constructor).parameters) - {"id"}
    assert parameters == fields


def test_node_settings_edges_and_conditions_as_yaml_writes_them():
    wf = workflow("settings", max_steps=50)
    a = wf.add(node("a", "noop").named("Start").at(10, 20).timeout(30))
    b, c = a >> [transform("b", output=1), delay("c", seconds=0.5)]
    d = wf.add(tool("d", tool="search", arguments={"q": "{{ input.q }}"}).on_error("default", default_output={"hits": []}))
    b.then(d, when="nodes.b.output == 1")
    c.then(d)
    assert wf.to_dict() == {"name": "settings", "max_steps": 50, "nodes": [
        {"id": "a", "type": "noop", "name": "Start", "position": {"x": 10, "y": 20}, "timeout_seconds": 30},
        {"id": "b", "type": "transform", "config": {"output": 1}},
        {"id": "c", "type": "delay", "config": {"seconds": 0.5}},
        {"id": "d", "type": "tool", "config": {"tool": "search", "arguments": {"q": "{{ input.q }}"}},
         "on_error": "default", "default_output": {"hits": []}}],
        "edges": [{"source": "a", "target": "b"}, {"source": "a", "target": "c"},
                  {"source": "b", "target": "d", "condition": "nodes.b.output == 1"}, {"source": "c", "target": "d"}]}
    definition = wf.validate()
    assert definition.nodes["d"].default_output == {"hits": []}
    assert definition.edges[2].condition == "nodes.b.output == 1"


def test_validation_names_each_culprit():
    wf = workflow("broken")
    fetch = wf.add(http_request("fetch", url="not a url"))
    fetch >> node("odd", "no_such_type")
    fetch.then(wf.add(noop("end")), when="nodes.fetch.output.status_code ==")
    with pytest.raises(DefinitionError) as caught:
        wf.validate()
    errors = caught.value.errors
    assert any(e == "node 'fetch' config.url: Not a valid URL." for e in errors), errors
    assert any(e.startswith("node 'odd': unknown node type 'no_such_type'") for e in errors), errors
    assert any(e.startswith("edges[1] (fetch -> end)") for e in errors), errors


def test_an_error_edge_needs_fail_branch_and_nodes_belong_to_one_workflow():
    wf = workflow("errors")
    a = wf.add(noop("a").on_error("continue"))
    a.on_failure(noop("b"))
    with pytest.raises(DefinitionError, match="an 'on: error' edge needs on_error: fail_branch on node 'a'"):
        wf.validate()
    with pytest.raises(ValueError, match="node 'x' is in no workflow"):
        noop("x") >> noop("y")
    with pytest.raises(ValueError, match="in different workflows"):
        a >> workflow("other").add(noop("c"))
