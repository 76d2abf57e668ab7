"""Sandboxed Jinja2 for node configs, the workflow output and edge conditions (never eval).

Templates see ``input``, ``nodes.<id>.output``, ``nodes.<id>.status``, ``execution``,
``context`` and, when a node runs, the ``secrets.<NAME>`` its config names. Undefined names, attributes and keys are errors (``StrictUndefined``), and
everything that goes wrong while parsing or rendering is a ``TemplateError``.

A string that is exactly one ``{{ expression }}`` renders to the expression's native value
(``"{{ input.n }}"`` gives an int, ``"{{ nodes.fetch.output }}"`` a dict); any other string
renders to a string. Error messages name the JSON path of the failing string and the
expression, never the rest of the text, which may hold secrets.

Every render runs within a ``RenderBudget`` (time, size and depth of what it builds;
``orchestrator.budget``) in the sandbox of ``orchestrator.sandbox``, and what it produces
must be storable (``orchestrator.storable``).
"""
from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any, Callable, TypeVar

import jinja2
from jinja2 import meta
from jinja2 import nodes as ast
from jinja2 import Template, Undefined
from jinja2.sandbox import SecurityError

from orchestrator.budget import DEFAULT_BUDGET, OutOfTime, OverBudget, RenderBudget, check_size, spending
from orchestrator.sandbox import Sandbox
from orchestrator.storable import NotStorable, check_storable, child_path

__all__ = ["RenderBudget", "TemplateError", "check_condition", "check_template", "child_path", "evaluate_condition",
           "is_templated", "iter_strings", "referenced_names", "render_string", "render_value"]

Renderer = Callable[[dict[str, Any]], Any]


class TemplateError(ValueError):
    """A template or condition does not parse, or failed to render; the message says which."""


@lru_cache(maxsize=1)
def _environment() -> Sandbox:
    return Sandbox()


# Compiled templates take some 25 bytes per character of source: each cache below holds at
# most this many characters of source, whatever the number of templates.
CACHE_CHARACTERS = 2_000_000
T = TypeVar("T")


def _cached_by_length(function: Callable[[str], T]) -> Callable[[str], T]:
    """A least-recently-used cache of ``function(text)`` bounded by the total length of the texts."""
    entries: OrderedDict[str, T] = OrderedDict()
    lock = threading.Lock()
    size = 0

    @functools.wraps(function)
    def cached(text: str) -> T:
        nonlocal size
        with lock:
            if text in entries:
                entries.move_to_end(text)
                return entries[text]
        result = function(text)
        with lock:
            if text not in entries:
                entries[text] = result
                size += len(text)
                while size > CACHE_CHARACTERS and len(entries) > 1:
                    size -= len(entries.popitem(last=False)[0])
        return result

    return cached


# What Jinja's parser and Python's compiler raise for "((((...))))" some hundred levels deep.
_TOO_DEEP = (RecursionError, SyntaxError, MemoryError)


def _syntax_message(exc: jinja2.TemplateSyntaxError) -> str:
    return f"{exc.message} (line {exc.lineno})"


def _expression_of(text: str) -> str | None:
    """The inside of a string that is one ``{{ ... }}`` pair (it may still be a template)."""
    stripped = text.strip()
    if not (stripped.startswith("{{") and stripped.endswith("}}")):
        return None
    return stripped[2:-2].removeprefix("-").removesuffix("-").strip()  # "-": whitespace control


@_cached_by_length
def _compile_string(text: str) -> tuple[str | None, Renderer]:
    """(the expression if the string is exactly one, a function of the variables)."""
    env = _environment()
    expression = _expression_of(text)
    if expression is not None:
        try:
            return expression, env.compile_expression(expression, undefined_to_none=False)
        except jinja2.TemplateSyntaxError:
            pass  # "{{ a }} and {{ b }}" is a template, not one expression
        except _TOO_DEEP:
            raise TemplateError("template is nested too deeply") from None
    try:
        template: Template = env.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template does not parse: {_syntax_message(exc)}") from None
    except _TOO_DEEP:
        raise TemplateError("template is nested too deeply") from None
    return None, template.render


@_cached_by_length
def _compile_condition(expr: str) -> Renderer:
    try:
        return _environment().compile_expression(expr, undefined_to_none=False)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"condition does not parse: {_syntax_message(exc)}") from None
    except _TOO_DEEP:
        raise TemplateError("condition is nested too deeply") from None


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


@_cached_by_length
def _names_in(text: str) -> frozenset[str]:
    try:
        return frozenset(meta.find_undeclared_variables(_environment().parse(text)))
    except (jinja2.TemplateSyntaxError, *_TOO_DEEP):
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


def _keys_in(text: str, root: str) -> set[str]:
    try:
        tree = _environment().parse(text)
    except jinja2.TemplateSyntaxError:
        return set()
    found: set[str] = set()
    for item in tree.find_all((ast.Getattr, ast.Getitem)):
        if isinstance(item, ast.Getattr) and _is_variable(item.node, root):
            found.add(item.attr)
        elif (isinstance(item, ast.Getitem) and _is_variable(item.node, root)
              and isinstance(item.arg, ast.Const) and isinstance(item.arg.value, str)):
            found.add(item.arg.value)
    return found


def _is_variable(node: ast.Node, name: str) -> bool:
    return isinstance(node, ast.Name) and node.name == name


def referenced_keys(root: str, value: Any, conditions: Iterable[str] = ()) -> dict[str, str]:
    """Each key of the variable ``root`` that templates in ``value`` and the conditions name
    (``nodes.fetch`` or ``nodes['fetch']`` for root ``nodes``; ``secrets.TOKEN`` for ``secrets``),
    with the path of the first string naming it."""
    found: dict[str, str] = {}
    texts = [*iter_strings(value), *((f"condition {expr!r}", f"{{{{ {expr} }}}}") for expr in conditions)]
    for path, text in texts:
        if "{" in text:
            for key in sorted(_keys_in(text, root)):
                found.setdefault(key, path)
    return found


def _guarded(where: str, compute: Callable[[], Any], budget: RenderBudget) -> Any:
    """Run user template code under ``budget``, turning any failure into a TemplateError that
    says where."""
    try:
        with spending(budget):
            return compute()
    except OverBudget as exc:
        raise TemplateError(f"{where}: over the render budget: it {exc}") from None
    except OutOfTime:   # the watchdog's, when it strikes before a hook notices the time
        raise TemplateError(f"{where}: over the render budget: it took longer than {budget.seconds:g} s") from None
    except SecurityError as exc:
        raise TemplateError(f"{where}: refused by the sandbox: {exc}") from None
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"{where}: {exc.message}") from None
    except RecursionError:
        raise TemplateError(f"{where}: nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - user code may raise anything (1/0, 'a' + 1, ...)
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None


def _native(render: Renderer, variables: dict[str, Any]) -> Any:
    return check_size(_to_json(_defined(render(variables))))


def render_string(text: str, variables: dict[str, Any], path: str = "$",
                  budget: RenderBudget | None = None) -> Any:
    """Render one string: the native value of a single ``{{ expr }}``, else a string."""
    budget = budget or DEFAULT_BUDGET
    expression, render = _compile_string(text)
    if expression is None:
        return _guarded(path, lambda: render(variables), budget)
    return _guarded(f"{path}: {{{{ {expression} }}}}", lambda: _native(render, variables), budget)


def render_value(value: Any, variables: dict[str, Any], path: str = "$",
                 budget: RenderBudget | None = None) -> Any:
    """Render every string in a JSON-like value (keys are left as they are), all of it within
    one ``budget``: its time is for the whole value, its size for each string rendered. What
    templates produce must be storable (no NUL, NaN or Infinity, huge integers...).
    ``budget`` defaults to ``DEFAULT_BUDGET``."""
    budget = budget or DEFAULT_BUDGET
    try:
        with spending(budget):
            rendered = _render(value, variables, path, budget)
    except OverBudget as exc:   # ran out between two strings
        raise TemplateError(f"{path}: over the render budget: it {exc}") from None
    if is_templated(value):     # what templates made is stored next: it must be storable
        try:
            check_storable(rendered, path)
        except NotStorable as exc:
            raise TemplateError(f"the rendered value cannot be stored: {exc}") from None
    return rendered


def _render(value: Any, variables: dict[str, Any], path: str, budget: RenderBudget) -> Any:
    if isinstance(value, str):
        return render_string(value, variables, path, budget)
    if isinstance(value, Mapping):
        return {key: _render(item, variables, child_path(path, key), budget) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_render(item, variables, child_path(path, index), budget) for index, item in enumerate(value)]
    return value


def evaluate_condition(expr: str, variables: dict[str, Any], budget: RenderBudget | None = None) -> bool:
    """The truth of an edge condition; undefined names are errors, not False."""
    evaluate = _compile_condition(expr)
    return _guarded(f"condition {expr!r}", lambda: bool(_defined(evaluate(variables))), budget or DEFAULT_BUDGET)
