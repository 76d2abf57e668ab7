"""Parsing and validating workflow definitions; validating execution input."""
import json
from pathlib import Path

import pytest

from orchestrator.definitions import (
    DefinitionError,
    EdgeSpec,
    InputValidationError,
    RetryPolicy,
    WorkflowDefinition,
    parse_definition,
    validate_input,
)
from orchestrator.states import EdgeOutcome, OnError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "definitions"
VALID = ["linear.yaml", "fan_out_fan_in.yaml", "conditional.yaml", "fail_branch.yaml"]


def load(name: str) -> WorkflowDefinition:
    return parse_definition((FIXTURES / name).read_text())


def errors_of(source) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        parse_definition(source)
    assert str(info.value) == "; ".join(info.value.errors)
    return info.value.errors


def minimal(**changes) -> dict:
    return {"name": "w", "nodes": [{"id": "a", "type": "noop"}], **changes}


@pytest.mark.parametrize("name", VALID)
def test_valid_fixtures_parse_and_round_trip(name):
    definition = load(name)
    assert parse_definition(definition.to_dict()) == definition
    assert parse_definition(json.dumps(definition.to_dict())) == definition
    assert parse_definition(json.dumps(definition.to_dict()).encode()) == definition


def test_linear_chain():
    definition = load("linear.yaml")
    assert definition.name == "linear-chain"
    assert definition.timeout_seconds == 600
    assert list(definition.nodes) == ["fetch", "digest", "publish"]
    assert definition.roots() == ("fetch",)
    assert definition.sinks() == ("publish",)
    assert definition.topological_order() == ("fetch", "digest", "publish")
    assert definition.outgoing("fetch") == (EdgeSpec("fetch", "digest"),)
    assert definition.incoming("publish") == (EdgeSpec("digest", "publish"),)
    fetch = definition.nodes["fetch"]
    assert fetch.retry == RetryPolicy(max_attempts=3, backoff_seconds=1, backoff_factor=2, max_backoff_seconds=60)
    assert fetch.timeout_seconds == 30
    assert fetch.config["url"] == "{{ input.url }}"  # kept as written; the engine renders it
    assert definition.nodes["publish"].position == {"x": 300, "y": 40}
    assert definition.output == {"digest": "{{ nodes.digest.output }}"}


def test_defaults():
    definition = parse_definition(minimal())
    assert (definition.description, definition.timeout_seconds, definition.max_steps) == (None, None, 500)
    assert definition.input_schema is None and definition.output is None and definition.edges == ()
    node = definition.nodes["a"]
    assert node.name == "a" and node.config == {} and node.retry == RetryPolicy()
    assert node.retry.max_attempts == 1
    assert node.timeout_seconds == 300 and node.on_error is OnError.FAIL
    assert node.default_output == {} and node.position is None


def test_max_steps_left_out_covers_every_attempt_and_turn_twice():
    nodes = [{"id": f"n{i}", "type": "noop"} for i in range(300)]
    assert parse_definition({"name": "wide", "nodes": nodes}).max_steps == 600
    retried = [{**node, "retry": {"max_attempts": 3}} for node in nodes]
    assert parse_definition({"name": "retried", "nodes": retried}).max_steps == 1800
    asks = [{"id": f"ask{i}", "type": "llm", "config": {"model": "acme/m1", "prompt": "hi"}} for i in range(30)]
    assert parse_definition({"name": "turns", "nodes": [*nodes, *asks]}).max_steps == 2 * (300 + 30 * 10)
    assert parse_definition({"name": "wide", "nodes": nodes, "max_steps": 300}).max_steps == 300


def test_a_max_steps_below_the_node_count_is_refused_naming_it():
    nodes = [{"id": f"n{i}", "type": "noop"} for i in range(3)]
    assert errors_of({"name": "small", "nodes": nodes, "max_steps": 2}) == [
        "max_steps: 2 is fewer than the 3 nodes, and each node that runs takes a step; set it to at least 3, "
        "or leave it out to get what the definition needs"]


def test_fan_out_fan_in():
    definition = load("fan_out_fan_in.yaml")
    assert definition.roots() == ("start",)
    assert definition.sinks() == ("join",)
    order = definition.topological_order()
    assert order[0] == "start" and order[-1] == "join" and set(order[1:4]) == {"left", "middle", "right"}
    assert [edge.source for edge in definition.incoming("join")] == ["left", "middle", "right"]


def test_conditional_edges():
    definition = load("conditional.yaml")
    assert definition.max_steps == 50
    conditions = [edge.condition for edge in definition.outgoing("fetch")]
    assert conditions[0] == "nodes.fetch.output.status_code == 200"
    assert definition.nodes["fetch"].on_error is OnError.CONTINUE


def test_fail_branch_and_yaml_scalars():
    definition = load("fail_branch.yaml")
    assert definition.nodes["fetch"].on_error is OnError.FAIL_BRANCH
    assert [(edge.target, edge.on) for edge in definition.outgoing("fetch")] == [
        ("use", EdgeOutcome.SUCCESS),
        ("fallback", EdgeOutcome.ERROR),
    ]
    # YAML 1.1 would make `on` True, `yes` True and the date a datetime.date.
    assert definition.nodes["use"].config["output"]["cached"] == "yes"
    assert definition.nodes["fallback"].config["output"]["since"] == "2024-01-31"
    settle = definition.nodes["settle"]
    assert settle.on_error is OnError.DEFAULT and settle.default_output == {"settled": False}


def test_invalid_cycle_fixture():
    assert errors_of((FIXTURES / "invalid_cycle.yaml").read_text()) == [
        "edges[3] (d -> nowhere): target 'nowhere' is not a node",
        "cycle: a -> b -> c -> a",
    ]


def test_invalid_nodes_fixture():
    errors = errors_of((FIXTURES / "invalid_nodes.yaml").read_text())
    assert errors[0] == "node 'fetch' config.url: Missing data for required field."
    assert errors[1] == "duplicate node id 'fetch'"
    assert errors[2].startswith("node 'summarize': unknown node type 'llm_magic' (known: agent, delay, http_request, ")
    assert errors[3].startswith("node 'digest' config.output: template does not parse: ")
    assert len(errors) == 4


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"name": None}, "name: Field may not be null."),
        ({"nodes": []}, "nodes: must list at least one node"),
        ({"colour": "red"}, "colour: Unknown field."),
        ({"max_steps": 0}, "max_steps: Must be greater than or equal to 1 and less than or equal to 100000."),
        ({"timeout_seconds": 1.5}, "timeout_seconds: Not a valid integer."),
        ({"input_schema": {"type": "objekt"}}, "input_schema.type: 'objekt' is not valid under any of the given schemas"),
        ({"output": {"a": ["{{ x }}", "{% if %}"]}}, "output.a[1]: template does not parse: "),
        ({"output": "{{ x"}, "output: template does not parse: "),
        ({"nodes": [{"id": "a b", "type": "noop"}]}, "node 'a b' id: must be 1 to 100 of A-Z a-z 0-9 _ -"),
        ({"nodes": [{"id": "x" * 101, "type": "noop"}]}, f"node '{'x' * 101}' id: must be 1 to 100"),
        ({"nodes": [{"type": "noop"}]}, "nodes[0] id: Missing data for required field."),
        ({"nodes": ["a"]}, "nodes[0]: Invalid input type."),
        ({"nodes": [{"id": "a"}]}, "node 'a' type: Missing data for required field."),
        ({"nodes": [{"id": "a", "type": "noop", "colour": 1}]}, "node 'a' colour: Unknown field."),
        ({"nodes": [{"id": "a", "type": "noop", "on_error": "explode"}]}, "node 'a' on_error: Must be one of: fail, continue, fail_branch, default."),
        ({"nodes": [{"id": "a", "type": "noop", "retry": {"max_attempts": 0}}]}, "node 'a' retry.max_attempts: Must be greater than or equal to 1 and less than or equal to 100."),
        ({"nodes": [{"id": "a", "type": "noop", "retry": {"backoff_factor": 0.5}}]}, "node 'a' retry.backoff_factor: Must be greater than or equal to 1 and less than or equal to 100."),
        ({"nodes": [{"id": "a", "type": "noop", "retry": {"tries": 2}}]}, "node 'a' retry.tries: Unknown field."),
        ({"nodes": [{"id": "a", "type": "noop", "timeout_seconds": 0}]}, "node 'a' timeout_seconds: Must be greater than 0 and less than or equal to 315360000."),
        ({"nodes": [{"id": "a", "type": "noop", "config": {"x": 1}}]}, "node 'a' config.x: Unknown field."),
        ({"nodes": [{"id": "a", "type": "delay", "config": {"seconds": -1}}]}, "node 'a' config.seconds: Must be greater than or equal to 0"),
        ({"nodes": [{"id": "a", "type": "http_request", "config": {"url": "ftp://x.org/f"}}]}, "node 'a' config.url: Not a valid URL."),
        (
            {"nodes": [{"id": "a", "type": "http_request", "config": {"url": "http://x.org", "json": {}, "body": ""}}]},
            "node 'a' config: give json or body, not both",
        ),
        ({"nodes": [{"id": "a", "type": "human_approval", "config": {"approver_email": "nope"}}]}, "node 'a' config.approver_email: Not a valid email address."),
        ({"nodes": [{"id": "a", "type": "transform", "config": {"output": {"t": "{{ x "}}}]}, "node 'a' config.output.t: template does not parse: "),
        ({"nodes": [{"id": "a", "type": "foo"}]}, "node 'a': unknown node type 'foo' (known: agent, delay, http_request,"),
        ({"edges": [{"source": "a", "target": "b"}]}, "edges[0] (a -> b): target 'b' is not a node"),
        ({"edges": [{"source": "z", "target": "a"}]}, "edges[0] (z -> a): source 'z' is not a node"),
        ({"edges": [{"source": "a"}]}, "edges[0] target: Missing data for required field."),
        ({"edges": [{"source": "a", "target": "a", "when": "x"}]}, "edges[0] when: Unknown field."),
        ({"edges": [{"source": "a", "target": "a"}]}, "cycle: a -> a"),
        ({"edges": [{"source": "a", "target": "a", "on": "maybe"}]}, "edges[0] on: Must be one of: success, error."),
        # Numbers that would overflow date arithmetic or the database, and values it cannot store.
        ({"timeout_seconds": 10**12}, "timeout_seconds: Must be greater than or equal to 1 and less than or equal to 315360000."),
        ({"nodes": [{"id": "a", "type": "noop", "timeout_seconds": 1e300}]}, "node 'a' timeout_seconds: Must be greater than 0 and less than or equal to 315360000."),
        ({"nodes": [{"id": "a", "type": "noop", "retry": {"backoff_seconds": 1e300}}]}, "node 'a' retry.backoff_seconds: Must be greater than or equal to 0 and less than or equal to 315360000."),
        ({"nodes": [{"id": "a", "type": "noop", "retry": {"max_backoff_seconds": 1e300}}]}, "node 'a' retry.max_backoff_seconds: Must be greater than or equal to 0 and less than or equal to 315360000."),
        ({"nodes": [{"id": "a", "type": "noop", "default_output": {"x": "\x00"}}]}, "node 'a' default_output: $.x has a NUL character (\\u0000)"),
        ({"nodes": [{"id": "a", "type": "noop", "default_output": [10**5000]}]}, "node 'a' default_output: $[0] is an integer of more than 300 digits"),
        # Size: nodes, edges, nesting, templates.
        ({"nodes": [{"id": f"n{i}", "type": "noop"} for i in range(1001)]}, "nodes: must list at most 1000 nodes"),
        ({"edges": [{"source": "a", "target": "a"}] * 5001}, "edges: must list at most 5000 edges"),
        ({"output": {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}, "the definition is nested more than 32 deep"),
        ({"output": "{{ x }}" * 1500}, "output: a template of 10500 characters; the limit is 10000"),
        ({"output": ["{{ x }}" * 1000] * 15}, "the definition holds 105000 characters of templates and conditions; the limit is 100000"),
    ],
)
def test_rejections_name_the_culprit(changes, expected):
    errors = errors_of(minimal(**changes))
    assert any(error.startswith(expected) for error in errors), errors


def test_an_error_edge_needs_fail_branch_on_its_source():
    source = minimal(
        nodes=[{"id": "a", "type": "noop", "on_error": "continue"}, {"id": "b", "type": "noop"}],
        edges=[{"source": "a", "target": "b", "on": "error"}],
    )
    assert errors_of(source) == [
        "edges[0] (a -> b): an 'on: error' edge needs on_error: fail_branch on node 'a', which has on_error: continue"
    ]


def test_condition_that_does_not_parse():
    source = minimal(
        nodes=[{"id": "fetch", "type": "noop"}, {"id": "alert", "type": "noop"}],
        edges=[{"source": "fetch", "target": "alert", "condition": "status >="}],
    )
    [error] = errors_of(source)
    assert error.startswith("edges[0] (fetch -> alert): condition does not parse: ")


def test_every_problem_is_reported_at_once():
    source = {
        "nodes": [
            {"id": "a", "type": "noop"},
            {"id": "a", "type": "noop"},
            {"id": "b", "type": "nope"},
            {"id": "c", "type": "noop"},
            {"id": "d", "type": "noop"},
        ],
        "edges": [{"source": "c", "target": "d"}, {"source": "d", "target": "c"}, {"source": "a", "target": "x"}],
    }
    errors = errors_of(source)
    assert errors[0] == "name: Missing data for required field."
    assert "duplicate node id 'a'" in errors
    assert any(error.startswith("node 'b': unknown node type 'nope'") for error in errors)
    assert "edges[2] (a -> x): target 'x' is not a node" in errors
    assert "cycle: c -> d -> c" in errors


def test_two_cycles_are_both_reported():
    nodes = [{"id": name, "type": "noop"} for name in "abcd"]
    edges = [{"source": s, "target": t} for s, t in ["ab", "ba", "cd", "dc"]]
    assert errors_of(minimal(nodes=nodes, edges=edges)) == ["cycle: a -> b -> a", "cycle: c -> d -> c"]


def test_a_node_that_only_leads_into_a_cycle_is_not_part_of_it():
    nodes = [{"id": name, "type": "noop"} for name in "abc"]
    edges = [{"source": s, "target": t} for s, t in ["ab", "bc", "cb"]]
    assert errors_of(minimal(nodes=nodes, edges=edges)) == ["cycle: b -> c -> b"]


def test_templated_config_fields_are_checked_when_rendered_not_before():
    definition = parse_definition(
        minimal(
            nodes=[
                {"id": "wait", "type": "delay", "config": {"seconds": "{{ input.seconds }}"}},
                {"id": "call", "type": "http_request", "config": {"url": "{{ input.url }}", "ok_statuses": "{{ input.ok }}"}},
            ]
        )
    )
    assert definition.nodes["wait"].config == {"seconds": "{{ input.seconds }}"}
    # An unknown field stays an error even when its value is a template.
    errors = errors_of(minimal(nodes=[{"id": "wait", "type": "delay", "config": {"seconds": 1, "sekonds": "{{ x }}"}}]))
    assert errors == ["node 'wait' config.sekonds: Unknown field."]


@pytest.mark.parametrize(
    "source, expected",
    [
        ("[1, 2]", "a workflow definition must be a mapping at the top level, not list"),
        ("just text", "a workflow definition must be a mapping at the top level, not str"),
        ("name: [", "not valid JSON or YAML: "),
        (b"\xff\xfe", "the definition is not UTF-8 text"),
        ("base: &b {type: noop}\nnodes: [*b]", "not valid JSON or YAML: aliases (*name) are not allowed (line 2"),
    ],
)
def test_unreadable_sources(source, expected):
    [error] = errors_of(source)
    assert error.startswith(expected)


def test_a_mapping_source_is_copied():
    source = minimal(nodes=[{"id": "a", "type": "transform", "config": {"output": {"k": 1}}}])
    definition = parse_definition(source)
    source["nodes"][0]["config"]["output"]["k"] = 2
    assert definition.nodes["a"].config["output"] == {"k": 1}


def test_backoff():
    policy = RetryPolicy(max_attempts=10, backoff_seconds=1, backoff_factor=2, max_backoff_seconds=60)
    assert [policy.backoff_for(attempt) for attempt in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert RetryPolicy(backoff_seconds=5, backoff_factor=1).backoff_for(7) == 5
    assert policy.backoff_for(100_000) == 60
    with pytest.raises(ValueError):
        policy.backoff_for(0)


def test_validate_input():
    definition = load("linear.yaml")
    validate_input(definition, {"url": "https://example.com/a"})
    with pytest.raises(InputValidationError) as info:
        validate_input(definition, {"url": 5})
    assert info.value.errors == ["$.url: 5 is not of type 'string'"]
    with pytest.raises(InputValidationError) as info:
        validate_input(definition, {})
    assert info.value.errors == ["$: 'url' is a required property"]
    with pytest.raises(InputValidationError, match=r"\$: \[\] is not of type 'object'"):
        validate_input(definition, [])


def test_validate_input_without_a_schema_accepts_anything():
    validate_input(parse_definition(minimal()), {"anything": [1, 2]})
