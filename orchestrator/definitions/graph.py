"""Graph algorithms on node ids and (source, target) pairs, shared by validation and model."""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence


def topological_sort(node_ids: Sequence[str], edges: Iterable[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """(an order where every edge points forward, ties in the given order; the nodes left
    out because they lie on a cycle or after one). Every edge must join two given nodes."""
    indegree = dict.fromkeys(node_ids, 0)
    successors: dict[str, list[str]] = {node_id: [] for node_id in node_ids}
    for source, target in edges:
        successors[source].append(target)
        indegree[target] += 1
    ready = deque(node_id for node_id in node_ids if indegree[node_id] == 0)
    order: list[str] = []
    while ready:
        node_id = ready.popleft()
        order.append(node_id)
        for target in successors[node_id]:
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    placed = set(order)
    return order, [node_id for node_id in node_ids if node_id not in placed]


def find_cycles(node_ids: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Cycles as node lists (``[a, b]`` is a -> b -> a), each starting at its first node in
    the given order; at least one per group of nodes that cannot be ordered."""
    edges = list(edges)
    position = {node_id: index for index, node_id in enumerate(node_ids)}
    remaining = list(node_ids)
    cycles: list[list[str]] = []
    while True:
        kept = set(remaining)
        _, leftover = topological_sort(remaining, [(s, t) for s, t in edges if s in kept and t in kept])
        if not leftover:
            return cycles
        # Every left-over node has a left-over predecessor: walk backwards until one repeats.
        left = set(leftover)
        predecessor: dict[str, str] = {}
        for source, target in edges:
            if source in left and target in left:
                predecessor.setdefault(target, source)
        path: list[str] = []
        seen: dict[str, int] = {}
        node_id = leftover[0]
        while node_id not in seen:
            seen[node_id] = len(path)
            path.append(node_id)
            node_id = predecessor[node_id]
        cycle = path[seen[node_id]:][::-1]
        start = min(range(len(cycle)), key=lambda i: position[cycle[i]])
        cycles.append(cycle[start:] + cycle[:start])
        on_cycle = set(cycle)
        remaining = [node_id for node_id in remaining if node_id not in on_cycle]
