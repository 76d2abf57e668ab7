"""Sandboxed Jinja2 for node configs, the workflow output and edge conditions (never eval).

Templates see ``input``, ``nodes.<id>.output``, ``nodes.<id>.status``, ``execution`` and
``context``. Undefined names, attributes and keys are errors (``StrictUndefined``), and
everything that goes wrong while parsing or rendering is a ``TemplateError``.

A string that is exactly one ``{{ expression }}`` renders to the expression's native value
(``"{{ input.n }}"`` gives an int, ``"{{ nodes.fetch.output }}"`` a dict); any other string
renders to a string. Error messages name the JSON path of the failing string and the
expression, never the rest of the text, which may hold secrets.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any, Callable

import jinja2
from jinja2 import meta
from jinja2 import StrictUndefined, Template, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

# Results of ``*`` and ``**`` larger than these are refused, so that a template cannot
# exhaust a worker's memory or CPU with ``'x' * 10**10`` or ``9 ** 9 ** 9``.
MAX_SEQUENCE_LENGTH = 1_000_000
MAX_POWER_BITS = 100_000

Renderer = Callable[[dict[str, Any]], Any]


class TemplateError(ValueError):
    """A template or condition does not parse, or failed to render; the message says which."""


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, where templates also cannot modify the data they see."""

    intercepted_binops = frozenset({"*", "**"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        # ``output.items`` means the key "items" of JSON data, not the dict method.
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int):
                    if len(sequence) * count > MAX_SEQUENCE_LENGTH:
                        raise SecurityError(f"'*' would build a sequence longer than {MAX_SEQUENCE_LENGTH}")
        elif isinstance(left, int) and isinstance(right, int) and right > 0:
            if max(left.bit_length(), 1) * right > MAX_POWER_BITS:
                raise SecurityError(f"'**' would build a number of more than {MAX_POWER_BITS} bits")
        return super().call_binop(context, operator, left, right)


@lru_cache(maxsize=1)
def _environment() -> _Environment:
    return _Environment(undefined=StrictUndefined, autoescape=False)


def _syntax_message(exc: jinja2.TemplateSyntaxError) -> str:
    return f"{exc.message} (line {exc.lineno})"


def _expression_of(text: str) -> str | None:
    """The inside of a string that is one ``{{ ... }}`` pair (it may still be a template)."""
    stripped = text.strip()
    if not (stripped.startswith("{{") and stripped.endswith("}}")):
        return None
    return stripped[2:-2].removeprefix("-").removesuffix("-").strip()  # "-": whitespace control


@lru_cache(maxsize=4096)
def _compile_string(text: str) -> tuple[str | None, Renderer]:
    """(the expression if the string is exactly one, a function of the variables)."""
    env = _environment()
    expression = _expression_of(text)
    if expression is not None:
        try:
            return expression, env.compile_expression(expression, undefined_to_none=False)
        except jinja2.TemplateSyntaxError:
            pass  # "{{ a }} and {{ b }}" is a template, not one expression
    try:
        template: Template = env.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template does not parse: {_syntax_message(exc)}") from None
    return None, template.render


@lru_cache(maxsize=4096)
def _compile_condition(expr: str) -> Renderer:
    try:
        return _environment().compile_expression(expr, undefined_to_none=False)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"condition does not parse: {_syntax_message(exc)}") from None


def _defined(value: Any) -> Any:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError, with Jinja's message, when printed
    return value


def _to_json(value: Any) -> Any:
    """A native result as JSON data: mappings become dicts, other iterables lists."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {key: _to_json(_defined(item)) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, bytes):
        return [_to_json(_defined(item)) for item in value]
    return str(value)


def child_path(path: str, key: Any) -> str:
    """The JSON path of ``key`` (a dict key or list index) inside the value at ``path``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def check_template(text: str) -> None:
    """Raise TemplateError if ``text`` is not a valid template."""
    _compile_string(text)


def check_condition(expr: str) -> None:
    """Raise TemplateError if ``expr`` is not a valid condition expression."""
    _compile_condition(expr)


def iter_strings(value: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """Every string in a JSON-like value, with its path (``$.output.items[0]``)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_strings(item, child_path(path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from iter_strings(item, child_path(path, index))


def is_templated(value: Any) -> bool:
    """Whether any string in a JSON-like value holds template markup."""
    return any("{{" in text or "{%" in text for _, text in iter_strings(value))


@lru_cache(maxsize=4096)
def _names_in(text: str) -> frozenset[str]:
    try:
        return frozenset(meta.find_undeclared_variables(_environment().parse(text)))
    except jinja2.TemplateSyntaxError:
        return frozenset()


def referenced_names(value: Any, conditions: Iterable[str] = ()) -> frozenset[str]:
    """The top-level variables (``input``, ``nodes``, ``context``...) that templates in
    ``value`` and the given conditions use, so callers load only what is needed."""
    names: set[str] = set()
    for _, text in iter_strings(value):
        if "{" in text:
            names |= _names_in(text)
    for expr in conditions:
        names |= _names_in(f"{{{{ {expr} }}}}")
    return frozenset(names)


def _guarded(where: str, compute: Callable[[], Any]) -> Any:
    """Run user template code, turning any failure into a TemplateError that says where."""
    try:
        return compute()
    except SecurityError as exc:
        raise TemplateError(f"{where}: refused by the sandbox: {exc}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{where}: {exc.message}") from None
    except Exception as exc:  # noqa: BLE001 - user code may raise anything (1/0, 'a' + 1, ...)
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None


def render_string(text: str, variables: dict[str, Any], path: str = "$") -> Any:
    """Render one string: the native value of a single ``{{ expr }}``, else a string."""
    expression, render = _compile_string(text)
    if expression is None:
        return _guarded(path, lambda: render(variables))
    return _guarded(f"{path}: {{{{ {expression} }}}}", lambda: _to_json(_defined(render(variables))))


def render_value(value: Any, variables: dict[str, Any], path: str = "$") -> Any:
    """Render every string in a JSON-like value (keys are left as they are)."""
    if isinstance(value, str):
        return render_string(value, variables, path)
    if isinstance(value, Mapping):
        return {key: render_value(item, variables, child_path(path, key)) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [render_value(item, variables, child_path(path, index)) for index, item in enumerate(value)]
    return value


def evaluate_condition(expr: str, variables: dict[str, Any]) -> bool:
    """The truth of an edge condition; undefined names are errors, not False."""
    evaluate = _compile_condition(expr)
    return _guarded(f"condition {expr!r}", lambda: bool(_defined(evaluate(variables))))
