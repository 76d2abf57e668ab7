"""A definition's ``input_schema``: checked once when the definition is saved, applied to
every execution's input.

Two rules keep a schema from reaching beyond itself or pinning the API:

- references stay inside the schema: a ``$ref`` or ``$dynamicRef`` must be a fragment
  (``#``, ``#/$defs/item``, ``#anchor``) that resolves, and validation runs against a
  registry that knows only the schema, so nothing is ever fetched from a URL or a file;
- ``pattern``, ``patternProperties`` and the ``regex`` format run on RE2, whose matching
  time is linear in the text (``^(a+)+$`` cannot backtrack); a pattern RE2 cannot compile
  (back-references, look-arounds) is refused when the definition is saved.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import re2
from jsonschema import Draft202012Validator, FormatChecker, SchemaError, ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend, validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable

REFERENCE_KEYS = ("$ref", "$dynamicRef")


class InputSchemaError(ValueError):
    """The input_schema is unusable; ``errors`` name each problem by its JSON path."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


_QUIET = re2.Options()
_QUIET.log_errors = False  # a pattern RE2 refuses is our 422, not a line on stderr


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    return re2.compile(pattern, _QUIET)


def _search(pattern: str, text: str) -> bool:
    return _compiled(pattern).search(text) is not None


def _pattern(validator: Validator, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Validator, patterns: Mapping[str, Any], instance: Any,
                        schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                # every jsonschema validator class has descend; its Validator protocol omits it
                yield from validator.descend(  # type: ignore[attr-defined]
                    value, subschema, path=key, schema_path=pattern)


def _format_checker(base: FormatChecker) -> FormatChecker:
    """``base`` with ``regex`` checked by RE2."""
    checker = FormatChecker()
    checker.checkers = {**base.checkers, "regex": (lambda text: not isinstance(text, str) or bool(_compiled(text)),
                                                   (re2.error,))}
    return checker


def _refuse_retrieval(uri: str) -> Resource:
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # attrs class: see _NOWHERE


@lru_cache(maxsize=8)
def _validator_class(base: type[Validator]) -> type[Validator]:
    return extend(base, validators={"pattern": _pattern, "patternProperties": _pattern_properties},
                  format_checker=_format_checker(base.FORMAT_CHECKER))


# Knows no schema of its own: jsonschema adds the schema being validated (and the drafts'
# meta-schemas), and any other URI is unresolvable instead of fetched. (referencing's attrs
# classes declare their fields with the pre-PEP 681 __dataclass_transform__, which mypy ignores.)
_NOWHERE = Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]


def _validator(schema: dict[str, Any]) -> Validator:
    cls = _validator_class(validator_for(schema, default=Draft202012Validator))
    return cls(schema, registry=_NOWHERE, format_checker=cls.FORMAT_CHECKER)


def _walk(value: Any, path: str = "$") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every object in the schema, with its JSON path."""
    if isinstance(value, Mapping):
        yield path, value
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _local_errors(schema: dict[str, Any], validator: Validator) -> list[str]:
    errors = []
    for path, node in _walk(schema):
        for key in REFERENCE_KEYS:
            ref = node.get(key)
            if not isinstance(ref, str):
                continue
            where = f"input_schema{path[1:]}.{key}"
            if not ref.startswith("#"):
                errors.append(f"{where}: only references inside the schema ('#...') are allowed, not {ref!r}")
                continue
            try:
                # jsonschema's own (private) resolver, the one it validates with
                validator._resolver.lookup(ref)  # type: ignore[attr-defined]
            except Unresolvable:
                errors.append(f"{where}: {ref!r} does not point into the schema")
        patterns = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        if isinstance(node.get("patternProperties"), Mapping):
            patterns += list(node["patternProperties"])
        for pattern in patterns:
            try:
                _compiled(pattern)
            except re2.error:
                errors.append(f"input_schema{path[1:]}: pattern {pattern!r} is not supported: use a regular "
                              f"expression without back-references or look-arounds")
    return errors


def check_input_schema(schema: dict[str, Any]) -> None:
    """Raise InputSchemaError unless ``schema`` is a valid, self-contained JSON Schema."""
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        raise InputSchemaError([f"input_schema{exc.json_path[1:]}: {exc.message}"]) from None
    except RecursionError:
        raise InputSchemaError(["input_schema: nested too deeply"]) from None
    errors = _local_errors(schema, _validator(schema))
    if errors:
        raise InputSchemaError(errors)


def input_errors(schema: dict[str, Any], value: Any) -> list[str]:
    """What is wrong with ``value`` under ``schema`` (checked by ``check_input_schema``), by JSON path."""
    try:
        problems = sorted(_validator(schema).iter_errors(value), key=lambda error: error.json_path)
    except RecursionError:
        return ["$: nested too deeply for the input_schema"]
    except Unresolvable as exc:
        return [f"$: the input_schema has a reference that does not resolve: {exc}"]
    return [f"{error.json_path}: {error.message}" for error in problems]
