"""The Jinja sandbox that templates run in: immutable data, and no way to build a value
past the render budget (``orchestrator.budget``).

Every place where a template can make something large is checked before it is made:
``*``, ``**`` and ``+``, ``%`` and ``str.format`` (widths), the string methods and filters
that take a width or a count (``ljust``, ``center``, ``indent``, ``batch``...), joins and
replaces (their result's length is known in advance), ``~`` and the text a template writes
(joined piece by piece, and collected by blocks piece by piece). What a call or a filter returns is measured after it, nested
parts included, so ``[[0] * 1000] * 3000`` is refused too.
"""
from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from jinja2 import StrictUndefined
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from orchestrator.budget import OverBudget, check_length, check_size, check_time, current_budget

# Numbers that ``*`` and ``**`` build are capped by their size in bits.
MAX_INT_BITS = 100_000

# printf-style conversions: %(name)s, %-10.3f, %*d ...
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
# Filters and str methods whose numeric argument is a width or a count of things built.
_WIDTH_FILTERS = frozenset({"center", "batch", "slice", "indent"})
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})


def _check_printf(fmt: Any) -> None:
    if not isinstance(fmt, str):
        return
    for width, precision in _PRINTF.findall(fmt):
        for number in (width, precision):
            if number == "*":
                raise SecurityError("'*' widths in % formats are not allowed")
            if number:
                check_length(int(number))


def _check_format(fmt: str) -> None:
    """str.format: widths in the format specs, which may not come from the arguments."""
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises its own error
    for _, _, spec, _ in parsed:
        if spec and "{" in spec:
            raise SecurityError("format specs taken from the arguments are not allowed")
        for number in re.findall(r"\d+", spec or ""):
            check_length(int(number))


def _joined_length(separator: str, items: list[Any]) -> int:
    return sum(len(item) if isinstance(item, str) else len(str(item)) for item in items) \
        + len(separator) * max(len(items) - 1, 0)


def _replaced_length(text: str, old: str, new: str, count: int = -1) -> int:
    found = text.count(old) if old else len(text) + 1
    if count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def _check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a call of ``text.<name>`` whose result would be too large; the arguments to
    call it with (an iterable to join is read once, here)."""
    if name in _WIDTH_METHODS and args and isinstance(args[0], int):
        check_length(args[0])
    elif name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        check_length(len(text) * max(tab, 1) if isinstance(tab, int) else len(text))
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        check_length(_replaced_length(text, *args[:3]))
    elif name == "join" and args:
        items = list(args[0])
        check_length(_joined_length(text, items))
        args = (items, *args[1:])
    elif name in ("format", "format_map"):
        _check_format(text)
    return args


def _check_filter(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """As ``_check_str_method``, for a filter called with (value, *args)."""
    value, rest = (args[0], args[1:]) if args else (None, ())
    if name in _WIDTH_FILTERS:
        for number in (*rest, *kwargs.values()):
            if isinstance(number, int) and not isinstance(number, bool):
                lines = value.count("\n") + 1 if isinstance(value, str) else 1
                check_length(number * lines)
    elif name == "format":
        _check_printf(value)
    elif name == "join" and isinstance(value, Iterable) and not isinstance(value, (str, Mapping)):
        items = list(value)
        check_length(_joined_length(rest[0] if rest and isinstance(rest[0], str) else "", items))
        args = (items, *rest)
    elif name == "replace" and isinstance(value, str) and len(rest) >= 2:
        if isinstance(rest[0], str) and isinstance(rest[1], str):
            count = rest[2] if len(rest) > 2 and isinstance(rest[2], int) else -1
            check_length(_replaced_length(value, rest[0], rest[1], count))
    return args


def _budgeted_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps jinja_pass_arg (pass_context, pass_environment...)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if getattr(function, "jinja_pass_arg", None) is not None:   # the context or environment first
            first, args = args[:1], _check_filter(name, args[1:], kwargs)
            return check_size(function(*first, *args, **kwargs))
        return check_size(function(*_check_filter(name, args, kwargs), **kwargs))

    return checked


def _checked_concat(parts: Iterable[str]) -> str:
    """``"".join`` that stops as soon as the text grows past the budget."""
    limit = current_budget().max_size
    chunks, total = [], 0
    for part in parts:
        total += len(part)
        if total > limit:
            raise OverBudget(f"would write more than {limit} characters")
        chunks.append(part)
        check_time()
    return "".join(chunks)


class _Buffer(list):
    """The text a ``{% set %}`` block, a macro or a filter block collects: it stops growing
    past the budget, before it is joined."""

    def __init__(self) -> None:
        super().__init__()
        self._length = 0
        self._limit = current_budget().max_size

    def _grow(self, parts: Iterable[Any]) -> list[Any]:
        parts = list(parts)
        self._length += sum(len(part) if isinstance(part, str) else 1 for part in parts)
        if self._length > self._limit:
            raise OverBudget(f"would write more than {self._limit} characters")
        check_time()
        return parts

    def append(self, part: Any) -> None:
        super().extend(self._grow((part,)))

    def extend(self, parts: Iterable[Any]) -> None:
        super().extend(self._grow(parts))


class _CodeGenerator(CodeGenerator):
    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.buffer()")

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        """``a ~ b`` joins through the environment's checked ``concat`` (autoescape is off)."""
        self.write("environment.concat(map(str, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")))")


class Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, where templates also cannot modify the data they see or outgrow the budget."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(_checked_concat)
    buffer = staticmethod(_Buffer)

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False)
        self.filters = {name: _budgeted_filter(name, function) for name, function in self.filters.items()}

    def getattr(self, obj: Any, attribute: str) -> Any:
        # ``output.items`` means the key "items" of JSON data, not the dict method.
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int):
                    check_length(len(sequence) * count)
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise SecurityError(f"'*' would build a number of more than {MAX_INT_BITS} bits")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 \
                    and max(left.bit_length(), 1) * right > MAX_INT_BITS:
                raise SecurityError(f"'**' would build a number of more than {MAX_INT_BITS} bits")
        elif operator == "+":
            if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
                check_length(len(left) + len(right))
        elif operator == "%":
            _check_printf(left)
        return check_size(super().call_binop(context, operator, left, right))

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        target = getattr(obj, "__wrapped__", obj)    # str.format comes wrapped by the sandbox
        if isinstance(getattr(target, "__self__", None), str):
            args = _check_str_method(target.__self__, target.__name__, args, kwargs)
        return check_size(super().call(context, obj, *args, **kwargs))
