"""Hostile definitions and inputs, generated: on PostgreSQL, no answer is a 5xx, every
execution that starts ends (its steps run in-process), and the API's memory stays bounded.

The pieces are the attacks the issue lists (SSRF through $ref, backtracking patterns,
templates that build huge values or loop forever, NUL characters, Infinity, huge numbers,
deep nesting, far dates, directories as time zones, random cron fields, forged cursors),
combined at random into definitions, inputs, schedules and list queries.
"""
from __future__ import annotations

import base64
import json
import resource
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from orchestrator.budget import RenderBudget
from orchestrator.states import EXECUTION_TERMINAL
from tests.conftest import make_settings
from tests.support.api import BOOTSTRAP_KEY, api_stack

TEMPLATES = [
    "{{ 'a'.ljust(200000000) }}", "{{ '%0200000000d' % 0 }}", "{{ 'a' | center(200000000) }}",
    "{{ [[0] * 1000] * 3000 }}", "{{ 'x' * 999999 ~ 'y' * 999999 }}", "{{ '\\x00' }}", "{{ [1e308 * 10] }}",
    "{{ 10 ** 5000 }}", "{{ 9 ** 9 ** 9 }}", "{{ ''.__class__.__mro__ }}", "{{ input }}", "{{ input.x }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "{{ " + "(" * 300 + "1" + ")" * 300 + " }}", "{% if 1 %}" * 150 + "{% endif %}" * 150, "{{ x", "plain",
]
SCHEMAS = [
    {"$ref": "http://127.0.0.1:1/internal/schema.json"}, {"$ref": "file:///etc/passwd"}, {"$ref": "#"},
    {"type": "object", "properties": {"a": {"$ref": "#"}}}, {"$ref": "#/$defs/missing"},
    {"type": "string", "pattern": "^(a+)+$"}, {"type": "string", "pattern": "(a)\\1"},
    {"type": "object", "patternProperties": {"^(x+x+)+y$": {"type": "integer"}}}, {"type": "string", "format": "regex"},
]
NUMBERS = [0, -1, 1, 2.5, 10**12, 10**30, 1e300, 2**63, 10**400]
STRINGS = ["", "\x00", "a\x00b", "x" * 300, "America", "Etc", "__pycache__", "../../etc/passwd", "R R * * *",
           "H H * * *", "0 0 31 2 *", "@reboot", "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:00Z", "\u2028"]


def _nested(depth: int, leaf: object) -> object:
    for _ in range(depth):
        leaf = {"a": [leaf]}
    return leaf


values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.sampled_from(NUMBERS), st.sampled_from(STRINGS), st.sampled_from(TEMPLATES)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "x", "\x00k"]), inner,
                                                                          max_size=3)),
    max_leaves=6,
)
def _mostly(valid, hostile):
    """Half the time a valid value, so that hostile parts reach the engine, not only the validator."""
    return st.one_of(st.just(valid), st.sampled_from(hostile))


configs = {
    "transform": st.fixed_dictionaries({"output": values}),
    "noop": st.just({}),
    "delay": st.fixed_dictionaries({"seconds": _mostly(0, NUMBERS)}),
    "http_request": st.fixed_dictionaries({"url": _mostly("http://127.0.0.1:1/x", ["{{ input.x }}", "file:///etc"])}),
    "human_approval": st.just({}),
}


@st.composite
def nodes(draw, node_id):
    node_type = draw(st.sampled_from(sorted(configs)))
    node = {"id": node_id, "type": node_type, "config": draw(configs[node_type])}
    node.update(draw(st.fixed_dictionaries({}, optional={
        "timeout_seconds": _mostly(5, NUMBERS),
        "retry": st.fixed_dictionaries({}, optional={"max_attempts": _mostly(2, NUMBERS),
                                                     "backoff_seconds": _mostly(0, NUMBERS)}),
        "on_error": st.sampled_from(["fail", "continue", "default"]),
        "default_output": values,
    })))
    return node


@st.composite
def definitions(draw):
    count = draw(st.integers(1, 3))
    ids = ["a", "b", "c"][:count]
    edges = [{"source": ids[i], "target": ids[i + 1],
              **draw(st.fixed_dictionaries({}, optional={"condition": st.sampled_from(TEMPLATES[-8:] + ["input.x > 1"])}))}
             for i in range(count - 1)]
    definition = {"name": draw(_mostly("hostile", ["x\x00", "x" * 300])),
                  "nodes": [draw(nodes(node_id)) for node_id in ids], "edges": edges}
    definition.update(draw(st.fixed_dictionaries({}, optional={
        "input_schema": st.sampled_from(SCHEMAS), "timeout_seconds": _mostly(60, NUMBERS),
        "max_steps": _mostly(50, NUMBERS), "output": values})))
    return definition


inputs = st.one_of(values, st.builds(_nested, st.integers(1, 400), st.just("a" * 27 + "!")),
                   st.just("a" * 5000 + "!"), st.just({"x": "\x00"}))


def _cursor(moment: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([moment, str(uuid.uuid4())]).encode()).decode().rstrip("=")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module")
def hostile_stack(servers, tmp_path_factory):
    stack = api_stack(make_settings(tmp_path_factory.mktemp("hostile"), servers.create_database(),
                                    ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY))
    yield stack
    stack.close()


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(definition=definitions(), input=inputs, schedule=st.fixed_dictionaries({
    "cron_expression": st.sampled_from(STRINGS + ["0 * * * *"]), "timezone": st.sampled_from(STRINGS + ["UTC"]),
    "start_at": st.sampled_from(STRINGS + [None])}), cursor=st.sampled_from(STRINGS))
def test_hostile_definitions_and_inputs_never_get_a_5xx_and_every_execution_ends(
        hostile_stack, monkeypatch, definition, input, schedule, cursor):
    monkeypatch.setattr("orchestrator.templating.DEFAULT_BUDGET", RenderBudget(seconds=0.5))
    client = hostile_stack.client()
    before = _peak_rss_mb()
    answers = [client.post("/api/v1/workflows", json={"definition": definition})]
    if answers[0].status_code == 201:
        workflow_id = answers[0].json["id"]
        answers.append(client.post(f"/api/v1/workflows/{workflow_id}/executions", json={"input": input}))
        answers.append(client.post(f"/api/v1/workflows/{workflow_id}/schedules", json=schedule))
        answers.append(client.get("/api/v1/schedules"))
        if answers[1].status_code == 202:
            execution_id = answers[1].json["id"]
            hostile_stack.run()
            client.post(f"/api/v1/executions/{execution_id}/cancel")   # a delay or an approval waits
            hostile_stack.run()
            answers.append(client.get(f"/api/v1/executions/{execution_id}/steps"))
            assert client.get(f"/api/v1/executions/{execution_id}").json["status"] in EXECUTION_TERMINAL
    for resource_name in ("workflows", "executions", "schedules", "approvals"):
        answers.append(client.get(f"/api/v1/{resource_name}", query_string={"cursor": _cursor(cursor)}))
    assert [a.status_code for a in answers if a.status_code >= 500] == [], [a.json for a in answers]
    assert _peak_rss_mb() - before < 200
