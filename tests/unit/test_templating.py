"""Sandboxed templates: native vs string rendering, strict undefined, the sandbox, conditions."""
import pytest

from orchestrator.templating import (
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
        "{{ 'x' * 100000000 }}",
        "{{ 2 ** 10000000 }}",
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
