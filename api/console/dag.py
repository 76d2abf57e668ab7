"""The layout of a workflow's DAG for the console: nodes in columns by depth, edges as curves."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.definitions.graph import topological_sort

NODE_WIDTH, NODE_HEIGHT = 170, 60
GAP_X, GAP_Y, MARGIN = 70, 22, 12
PADDING = 10


@dataclass(frozen=True)
class Area:
    """Where a box's words go: two lines of its name, then its type and status."""

    x: int = PADDING
    y: int = 4
    width: int = NODE_WIDTH - 2 * PADDING
    height: int = NODE_HEIGHT - 8


@dataclass(frozen=True)
class Box:
    id: str
    type: str
    x: int
    y: int
    status: str | None      # None: a definition, not a run


@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    path: str
    on_error: bool
    condition: str | None


@dataclass(frozen=True)
class Drawing:
    width: int
    height: int
    boxes: list[Box]
    arrows: list[Arrow]
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT
    label: Area = Area()


def layout(definition: dict[str, Any], statuses: dict[str, str] | None = None) -> Drawing:
    """Each node in the column of its longest path from a root, columns centred vertically;
    ``statuses`` of a run by node id (a node without a step yet is ``pending``)."""
    ids = [node["id"] for node in definition["nodes"]]
    edges = definition.get("edges", [])
    pairs = [(edge["source"], edge["target"]) for edge in edges]
    order, _ = topological_sort(ids, pairs)
    depth: dict[str, int] = {}
    for node_id in order:
        depth[node_id] = max((depth[s] + 1 for s, t in pairs if t == node_id and s in depth), default=0)
    columns: dict[int, list[str]] = {}
    for node_id in ids:
        columns.setdefault(depth.get(node_id, 0), []).append(node_id)
    rows = max(len(column) for column in columns.values())
    height = rows * NODE_HEIGHT + (rows - 1) * GAP_Y + 2 * MARGIN
    width = len(columns) * NODE_WIDTH + (len(columns) - 1) * GAP_X + 2 * MARGIN
    types = {node["id"]: node["type"] for node in definition["nodes"]}
    where: dict[str, tuple[int, int]] = {}
    for column, members in columns.items():
        top = (height - len(members) * NODE_HEIGHT - (len(members) - 1) * GAP_Y) // 2
        for row, node_id in enumerate(members):
            where[node_id] = (MARGIN + column * (NODE_WIDTH + GAP_X), top + row * (NODE_HEIGHT + GAP_Y))
    boxes = [Box(node_id, types[node_id], *where[node_id],
                 None if statuses is None else statuses.get(node_id, "pending")) for node_id in ids]
    arrows = []
    for edge in edges:
        (sx, sy), (tx, ty) = where[edge["source"]], where[edge["target"]]
        x1, y1, x2, y2 = sx + NODE_WIDTH, sy + NODE_HEIGHT // 2, tx, ty + NODE_HEIGHT // 2
        bend = max(GAP_X // 2, (x2 - x1) // 2)
        arrows.append(Arrow(edge["source"], edge["target"], f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2 - 4},{y2}",
                            edge.get("on") == "error", edge.get("condition")))
    return Drawing(width, height, boxes, arrows)
