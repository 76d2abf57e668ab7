"""A readable structural diff between two definitions: the workflow's settings, nodes added,
removed or changed (each change a dotted path with the value before and after) and edges.

Values are shown as ``orchestrator.redaction`` masks a step's input (header values,
passwords, keys in URLs...), so a credential written into a config never appears in a diff;
a change of such a value shows as ``***`` before and after.
"""
from __future__ import annotations

from typing import Any

from orchestrator.definitions.model import WorkflowDefinition
from orchestrator.redaction import redact

MISSING = "(absent)"


def _changes(before: Any, after: Any, shown_before: Any, shown_after: Any, path: str) -> list[dict[str, Any]]:
    """Where ``before`` and ``after`` differ, by dotted path; values as shown (redacted)."""
    if before == after:
        return []
    if isinstance(before, dict) and isinstance(after, dict):
        changes = []
        for key in sorted(set(before) | set(after), key=str):
            changes += _changes(before.get(key, MISSING), after.get(key, MISSING),
                                shown_before.get(key, MISSING), shown_after.get(key, MISSING),
                                f"{path}.{key}" if path else str(key))
        return changes
    return [{"path": path, "before": shown_before, "after": shown_after}]


def _node(node: dict[str, Any]) -> dict[str, Any]:
    return {"id": node["id"], "type": node["type"]}


def _edge_key(edge: dict[str, Any]) -> tuple[str, str, str]:
    return edge["source"], edge["target"], edge["on"]


def _edges(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    old, new = {_edge_key(e): e for e in before}, {_edge_key(e): e for e in after}
    return {
        "added": [redact(new[k]) for k in new if k not in old],
        "removed": [redact(old[k]) for k in old if k not in new],
        "changed": [{"source": k[0], "target": k[1], "on": k[2],
                     "changes": _changes(old[k], new[k], redact(old[k]), redact(new[k]), "")}
                    for k in new if k in old and old[k] != new[k]],
    }


def _nodes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    old, new = {n["id"]: n for n in before}, {n["id"]: n for n in after}
    changed = []
    for node_id in new:
        if node_id in old and old[node_id] != new[node_id]:
            changes = _changes(old[node_id], new[node_id], redact(old[node_id]), redact(new[node_id]), "")
            changed.append({**_node(new[node_id]), "changes": changes})
    return {"added": [_node(new[n]) for n in new if n not in old],
            "removed": [_node(old[n]) for n in old if n not in new],
            "changed": changed}


def _summary(diff: dict[str, Any]) -> str:
    parts = [f"{len(diff[part][kind])} {part[:-1]}{'s' if len(diff[part][kind]) != 1 else ''} {kind}"
             for part in ("nodes", "edges") for kind in ("added", "removed", "changed") if diff[part][kind]]
    if diff["settings"]:
        parts.append(f"{len(diff['settings'])} setting{'s' if len(diff['settings']) != 1 else ''} changed")
    return ", ".join(parts) or "no change"


def diff_definitions(before: WorkflowDefinition | None, after: WorkflowDefinition) -> dict[str, Any]:
    """``{summary, settings: [{path, before, after}], nodes: {added, removed, changed},
    edges: {added, removed, changed}}``; ``before`` None: everything is added."""
    old = before.to_dict() if before is not None else {"nodes": [], "edges": []}
    new = after.to_dict()
    settings_old = {k: v for k, v in old.items() if k not in ("nodes", "edges")}
    settings_new = {k: v for k, v in new.items() if k not in ("nodes", "edges")}
    diff = {"settings": _changes(settings_old, settings_new, redact(settings_old), redact(settings_new), "")
            if before is not None else [],
            "nodes": _nodes(old["nodes"], new["nodes"]),
            "edges": _edges(old["edges"], new["edges"])}
    return {"summary": _summary(diff), **diff}
