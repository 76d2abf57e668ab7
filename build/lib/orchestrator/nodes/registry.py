"""Node types by type name: the ``orchestrator.nodes`` entry points, plus ``register``.

Entry points are loaded on first use, once. A plugin that fails to load is logged and left
out (its type then reports as unknown), so one broken package does not stop the others.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import entry_points

from marshmallow import Schema

from orchestrator.nodes.base import NodeType

ENTRY_POINT_GROUP = "orchestrator.nodes"

logger = logging.getLogger(__name__)

# Types added with register(); they take precedence over entry points of the same name.
_registered: dict[str, type[NodeType]] = {}


class UnknownNodeType(KeyError):
    """No node type has this name; the message lists the known ones."""

    def __init__(self, type_name: str, known: list[str]):
        super().__init__(type_name)
        self.type_name = type_name
        self.known = known

    def __str__(self) -> str:
        return f"unknown node type {self.type_name!r} (known: {', '.join(self.known) or 'none'})"


def _check(cls: object) -> type[NodeType]:
    if not (isinstance(cls, type) and issubclass(cls, NodeType)):
        raise TypeError(f"{cls!r} is not a NodeType subclass")
    if not isinstance(getattr(cls, "type_name", None), str) or not hasattr(cls, "config_schema"):
        raise TypeError(f"{cls.__name__} must define type_name and config_schema")
    return cls


@lru_cache(maxsize=1)
def _discovered() -> dict[str, type[NodeType]]:
    found: dict[str, type[NodeType]] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = _check(entry_point.load())
        except Exception:  # noqa: BLE001 - a broken plugin must not hide the others
            logger.exception("node type %r (%s) failed to load", entry_point.name, entry_point.value)
            continue
        if cls.type_name != entry_point.name:
            logger.error(
                "node type entry point %r names %s, whose type_name is %r; left out",
                entry_point.name, entry_point.value, cls.type_name,
            )
            continue
        found[cls.type_name] = cls
    return found


def register(cls: type[NodeType]) -> type[NodeType]:
    """Add a node type (usable as a class decorator); it replaces one of the same name."""
    _registered[_check(cls).type_name] = cls
    return cls


def node_types() -> dict[str, type[NodeType]]:
    """Every known node type by name, sorted by name."""
    merged = {**_discovered(), **_registered}
    return {name: merged[name] for name in sorted(merged)}


@lru_cache(maxsize=None)
def config_schema_of(cls: type[NodeType]) -> Schema:
    """The type's config schema, built once (marshmallow schemas are reusable)."""
    return cls.config_schema()


def get_node_type(type_name: str) -> type[NodeType]:
    types = node_types()
    try:
        return types[type_name]
    except KeyError:
        raise UnknownNodeType(type_name, list(types)) from None
