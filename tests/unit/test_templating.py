"""Sandboxed templates: native vs string rendering, strict undefined, the sandbox, conditions."""
import time
import tracemalloc

import pytest

from orchestrator.templating import (
    RenderBudget,
    TemplateError,
    check_condition,
    check_template,
    evaluate_condition,
    is_templated,
    iter_strings,
    render_value,
)

VARIABLES = {
    "input": {"n": 3, "url": "https://example.com", "tags": ["a", "b"], "items": [1, 2]},
    "nodes": {"fetch": {"output": {"status_code": 200, "json": {"title": "Hi"}}, "status": "completed"}},
    "execution": {"id": "e1"},
    "context": {"shared": {"k": "v"}},
}


def test_a_single_expression_renders_to_its_native_value():
    assert render_value("{{ input.n }}", VARIABLES) == 3
    assert render_value("  {{ nodes.fetch.output }} ", VARIABLES) == {"status_code": 200, "json": {"title": "Hi"}}
    assert render_value("{{ input.tags }}", VARIABLES) == ["a", "b"]
    assert render_value("{{- input.n -}}", VARIABLES) == 3
    assert render_value("{{ none }}", VARIABLES) is None


def test_native_values_are_json_data():
    assert render_value("{{ input.tags | map('upper') }}", VARIABLES) == ["A", "B"]
    assert render_value("{{ range(3) }}", VARIABLES) == [0, 1, 2]


def test_anything_else_renders_to_a_string():
    assert render_value("n={{ input.n }}", VARIABLES) == "n=3"
    assert render_value("{{ input.n }}{{ input.n }}", VARIABLES) == "33"
    assert render_value("{{ input.n }} and {{ input.n }}", VARIABLES) == "3 and 3"
    assert render_value("{% if input.n > 2 %}big{% endif %}", VARIABLES) == "big"
    assert render_value("no template", VARIABLES) == "no template"


def test_render_value_walks_dicts_and_lists_and_keeps_other_values():
    value = {"a": ["{{ input.n }}", 1.5, None, True], "b": {"c": "x{{ execution.id }}"}, "{{ k }}": 1}
    assert render_value(value, VARIABLES) == {"a": [3, 1.5, None, True], "b": {"c": "xe1"}, "{{ k }}": 1}


def test_a_key_of_json_data_wins_over_a_dict_method():
    assert render_value("{{ input.items }}", VARIABLES) == [1, 2]
    assert render_value("{{ context.shared.k }}", VARIABLES) == "v"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{{ nope }}", "'nope' is undefined"),
        ("{{ input.missing }}", "has no attribute 'missing'"),
        ("{{ nodes.other.output }}", "has no attribute 'other'"),
        ("x {{ input.missing }} y", "has no attribute 'missing'"),
        ("{{ [1, input.missing] }}", "has no attribute 'missing'"),
        ("{{ {'k': nope} }}", "'nope' is undefined"),
    ],
)
def test_undefined_variables_and_keys_are_errors(text, expected):
    with pytest.raises(TemplateError, match=expected):
        render_value({"config": {"title": text}}, VARIABLES)


def test_errors_name_the_path_and_the_expression():
    with pytest.raises(TemplateError) as info:
        render_value({"output": ["ok", "{{ input.missing }}"]}, VARIABLES, path="config")
    assert str(info.value).startswith("config.output[1]: {{ input.missing }}: ")


def test_errors_do_not_quote_the_rest_of_a_template():
    with pytest.raises(TemplateError) as info:
        render_value("Bearer sk-secret {{ input.missing }}", VARIABLES)
    assert "sk-secret" not in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ input.url.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ input.tags.append('x') }}",
        "{{ 2 ** 10000000 }}",
        "{{ (10 ** 20000) * (10 ** 20000) }}",
        "{{ '%*d' % (200000000, 0) }}",
        "{{ '{:{}}'.format('a', 200000000) }}",
    ],
)
def test_the_sandbox_refuses_unsafe_operations(text):
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        render_value(text, VARIABLES)
    assert VARIABLES["input"]["tags"] == ["a", "b"]


def test_runtime_failures_are_template_errors():
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        render_value("{{ 1 / 0 }}", VARIABLES)


@pytest.mark.parametrize("text", ["{{ a ", "{% if %}", "{{ a }} {{", "{% for x in y %}"])
def test_check_template_rejects_syntax_errors(text):
    with pytest.raises(TemplateError, match="template does not parse: .*line 1"):
        check_template(text)


def test_check_template_accepts_good_templates():
    for text in ["plain", "{{ a.b }}", "{{ a }} {{ b | default('x') }}", "{% for x in y %}{{ x }}{% endfor %}"]:
        check_template(text)


def test_conditions():
    assert evaluate_condition("nodes.fetch.output.status_code == 200", VARIABLES) is True
    assert evaluate_condition("nodes.fetch.output.status_code >= 400", VARIABLES) is False
    assert evaluate_condition("input.missing is defined", VARIABLES) is False
    assert evaluate_condition("input.tags", VARIABLES) is True
    with pytest.raises(TemplateError, match="has no attribute 'missing'"):
        evaluate_condition("input.missing > 1", VARIABLES)
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        evaluate_condition("input.url.__class__", VARIABLES)


def test_check_condition():
    check_condition("a.b >= 400 and c")
    for expr in ["a >", "", "{{ a }}", "a b"]:
        with pytest.raises(TemplateError, match="condition does not parse"):
            check_condition(expr)


def test_iter_strings_and_is_templated():
    value = {"a": ["x", {"b": "{{ y }}"}], "c": 1}
    assert list(iter_strings(value, "config")) == [("config.a[0]", "x"), ("config.a[1].b", "{{ y }}")]
    assert is_templated(value)
    assert not is_templated({"a": ["x", 1]})
    assert is_templated("{% if a %}b{% endif %}")


def test_filters_still_work_inside_the_budget():
    assert render_value("{{ (input.tags + ['c']) | length }}", VARIABLES) == 3
    assert render_value("{{ input.tags | join('-') | upper | center(7) }}", VARIABLES) == "  A-B  "
    assert render_value("{{ input.items | sum }}", VARIABLES) == 3
    assert render_value("{{ input.tags | batch(1) | list }}", VARIABLES) == [["a"], ["b"]]


@pytest.mark.parametrize("text", [
    "{{ 'x' * 100000000 }}",
    "{{ 'a'.ljust(200000000) }}",
    "{{ 'a'.center(200000000) }}",
    "{{ 'a'.zfill(200000000) }}",
    "{{ '%0200000000d' % 0 }}",
    "{{ '{:>200000000}'.format(1) }}",
    "{{ 'a' | center(200000000) }}",
    "{{ 'a\\nb' | indent(200000000) }}",
    "{{ [1] | batch(200000000, 0) | list }}",
    "{{ '%0200000000d' | format(0) }}",
    "{{ [[0] * 1000] * 3000 }}",
    "{{ ('x' * 1000000) ~ ('x' * 1000000) }}",
    "{{ ('x' * 1000000) + 'y' }}",
    "{{ (['x' * 1000000] * 1000) | join }}",
    "{{ ('x' * 1000000).replace('x', 'yy') }}",
    "{{ 'x'.join(['x' * 600000, 'y' * 600000]) }}",
    "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
    "{% set s %}{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}{% endset %}{{ s | length }}",
])
def test_what_a_render_builds_is_capped_before_it_is_built(text):
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError, match="over the render budget"):
            render_value(text, VARIABLES)
        assert tracemalloc.get_traced_memory()[1] < 50_000_000
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("text", [
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% for i in input.many %}{% for j in input.many %}{% endfor %}{% endfor %}",   # no call: the watchdog
])
def test_a_render_that_outlives_its_budget_stops_even_in_a_loop_without_calls(text):
    variables = {**VARIABLES, "input": {"many": list(range(100000))}}
    started = time.monotonic()
    with pytest.raises(TemplateError, match=r"^\$\.x: over the render budget: it took longer than 0.3 s$"):
        render_value({"x": text}, variables, budget=RenderBudget(seconds=0.3))
    assert time.monotonic() - started < 1.5
    assert render_value("{{ 1 + 1 }}", VARIABLES) == 2      # the interruption does not leak


def test_a_budget_covers_a_whole_value_and_the_size_cap_is_settable():
    budget = RenderBudget(max_size=10)
    assert render_value(["{{ 'x' * 10 }}", "{{ 'y' * 10 }}"], VARIABLES, budget=budget) == ["x" * 10, "y" * 10]
    with pytest.raises(TemplateError, match=r"\$\[1\]: .* larger than 10"):
        render_value(["ok", "{{ 'y' * 11 }}"], VARIABLES, budget=budget)
    with pytest.raises(TemplateError, match="more than 3 deep"):
        render_value("{{ [[[[1]]]] }}", VARIABLES, budget=RenderBudget(max_depth=3))


@pytest.mark.parametrize("depth", [100, 200, 2000])
def test_templates_and_conditions_nested_hundreds_deep_are_template_errors(depth):
    with pytest.raises(TemplateError, match="nested too deeply"):
        check_template("{{ " + "(" * depth + "1" + ")" * depth + " }}")
    with pytest.raises(TemplateError, match="nested too deeply"):
        check_condition("[" * depth + "]" * depth)
    with pytest.raises(TemplateError, match="nested too deeply"):
        check_template("{% if 1 %}" * depth + "x" + "{% endif %}" * depth)
