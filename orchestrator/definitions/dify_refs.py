"""Dify's variable references and if-else conditions, as our templates and edge conditions.

Dify writes a reference as ``{{#<node id>.<variable>[.<path>]#}}`` in text and as a
``value_selector`` list ``[<node id>, <variable>, ...]`` in structured fields. Each becomes
an expression over what our templates see: a start node's variables are ``input``, another
node's outputs ``nodes['<id>'].output`` (with Dify's output names mapped onto ours), ``sys``
variables the input or the execution, and environment variables our secrets.

Dify's http-request node completes whatever the status; ours fails outside ``ok_statuses``.
A node whose ``status_code`` the workflow reads gets every final status as ok, so that its
branches see 404 as Dify's do.
"""
from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

REFERENCE = re.compile(r"\{\{#([A-Za-z0-9_-]+)\.([^#{}]+?)#\}\}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# sys variables with an equivalent: the workflow's input, or the execution.
SYS = {"query": "input.query", "files": "input.files", "user_id": "input.user_id",
       "workflow_run_id": "execution.id", "workflow_id": "execution.workflow_id"}


class Untranslatable(Exception):
    """A reference or condition with no equivalent; the message names it."""


def _path(base: str, parts: list[str]) -> str:
    for part in parts:
        base += f".{part}" if _IDENTIFIER.match(part) else f"[{json.dumps(part)}]"
    return base


def _http_output(node: str, variable: str) -> str:
    if variable == "body":      # Dify's body is text; ours is parsed when it is JSON
        return f"({node}.json | tojson if 'json' in {node} else {node}.text)"
    if variable in ("status_code", "headers"):
        return f"{node}.{variable}"
    raise Untranslatable(f"an http-request node has no output {variable!r} here")


# Dify's output names of each node type we map, onto ours: (variable, node output) -> expression.
OUTPUTS = {
    "llm": lambda node, variable: {"text": f"{node}.text", "usage": f"{node}.usage",
                                   "structured_output": f"{node}.structured"}.get(variable),
    "http-request": _http_output,
    "template-transform": lambda node, variable: node if variable == "output" else None,
    "answer": lambda node, variable: f"{node}.answer" if variable == "answer" else None,
    "end": lambda node, variable: f"{node}[{json.dumps(variable)}]",
}


class References:
    """Turns references into expressions, knowing each node's Dify type."""

    def __init__(self, node_types: dict[str, str | None]):
        self.node_types = node_types
        self.secrets: set[str] = set()
        # http-request nodes whose status_code something reads: it sees every status, as in Dify
        self.status_read: set[str] = set()

    def expression(self, selector: object) -> str:
        if not isinstance(selector, list) or len(selector) < 2 or not all(isinstance(p, str) for p in selector):
            raise Untranslatable(f"variable selector {selector!r} is not [node id, variable, ...]")
        source, variable, *rest = selector
        if source == "sys":
            if variable not in SYS:
                raise Untranslatable(f"sys.{variable} has no equivalent here")
            return _path(SYS[variable], rest)
        if source == "env":
            self.secrets.add(variable)
            return _path(f"secrets.{variable}", rest)
        kind = self.node_types.get(source)
        if kind is None:
            raise Untranslatable(f"{{{{#{'.'.join(selector)}#}}}} names node {source!r}, which the graph lacks")
        if kind == "start":       # an optional variable left out reads as "", as in Dify
            return _path(f"input.get({json.dumps(variable)}, '')", rest)
        if kind == "http-request" and variable == "status_code":
            self.status_read.add(source)
        if kind not in OUTPUTS:
            raise Untranslatable(f"it reads the {kind} node {source}, which has no equivalent here")
        mapped = OUTPUTS[kind](f"nodes[{json.dumps(source)}].output", variable)
        if mapped is None:
            raise Untranslatable(f"a {kind} node has no output {variable!r} here")
        return _path(mapped, rest)

    def template(self, text: str) -> str:
        """Text with Dify references as our ``{{ ... }}`` (a text that is one reference keeps its type)."""
        if not isinstance(text, str):
            raise Untranslatable(f"expected text, got {type(text).__name__}")
        return REFERENCE.sub(lambda m: "{{ " + self.expression([m[1], *m[2].split(".")]) + " }}", text)

    def query_value(self, text: str) -> str:
        """Text for a query string or form body: literal parts percent-encoded now, references
        when they render."""
        parts = REFERENCE.split(text)      # literal, node, variable, literal, ...
        out = [quote(parts[0], safe="")]
        for i in range(1, len(parts), 3):
            out.append("{{ (" + self.expression([parts[i], *parts[i + 1].split(".")]) + ") | urlencode }}")
            out.append(quote(parts[i + 2], safe=""))
        return "".join(out)

    def value(self, value: Any) -> Any:
        """``template`` applied to every string inside a JSON value."""
        if isinstance(value, str):
            return self.template(value)
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        return value

    # -- if-else --------------------------------------------------------------------------

    def _operand(self, condition: dict[str, Any]) -> str:
        value: Any = condition.get("value")
        whole = REFERENCE.fullmatch(value) if isinstance(value, str) else None
        if whole:
            return self.expression([whole[1], *whole[2].split(".")])
        if condition.get("varType") == "number" and not isinstance(value, list):
            try:
                return json.dumps(float(value))
            except (TypeError, ValueError):
                raise Untranslatable(f"{value!r} is not a number") from None
        return json.dumps(value)

    def condition(self, condition: dict[str, Any]) -> str:
        actual = self.expression(condition.get("variable_selector"))
        operator = condition.get("comparison_operator")
        if operator in ("empty", "not empty", "null", "not null"):
            return {"empty": f"not ({actual})", "not empty": f"not not ({actual})",
                    "null": f"({actual}) is none", "not null": f"({actual}) is not none"}[operator]
        value = self._operand(condition)
        numeric = {"=": "==", "≠": "!=", ">": ">", "<": "<", "≥": ">=", "≤": "<="}
        if operator in numeric:
            return f"({actual} | float) {numeric[operator]} ({value} | float)"
        text = {"contains": f"({value}) in ({actual})", "not contains": f"({value}) not in ({actual})",
                "start with": f"({actual} | string).startswith({value})",
                "end with": f"({actual} | string).endswith({value})",
                "is": f"({actual}) == ({value})", "is not": f"({actual}) != ({value})",
                "in": f"({actual}) in ({value})", "not in": f"({actual}) not in ({value})"}
        if operator not in text:
            raise Untranslatable(f"comparison operator {operator!r} has no equivalent here")
        return text[operator]

    def case(self, case: dict[str, Any]) -> str:
        conditions = case.get("conditions") or []
        if not conditions:
            raise Untranslatable(f"case {case.get('case_id')!r} has no conditions")
        joiner = " or " if case.get("logical_operator") == "or" else " and "
        return joiner.join(f"({self.condition(c)})" for c in conditions)
