"""The console's DAG layout: columns by longest path, edges from right side to left side."""
from api.console.dag import NODE_HEIGHT, NODE_WIDTH, layout


def test_columns_follow_the_longest_path_and_runs_carry_statuses():
    definition = {"nodes": [{"id": i, "type": "noop"} for i in ("a", "b", "c", "d")],
                  "edges": [{"source": "a", "target": "b"}, {"source": "b", "target": "d"},
                            {"source": "a", "target": "d", "on": "error"}, {"source": "a", "target": "c"}]}
    drawing = layout(definition, {"a": "completed", "b": "running"})
    boxes = {box.id: box for box in drawing.boxes}
    assert boxes["a"].x < boxes["b"].x == boxes["c"].x < boxes["d"].x          # d waits for b: third column
    assert boxes["b"].y != boxes["c"].y
    assert [boxes[n].status for n in "abcd"] == ["completed", "running", "pending", "pending"]
    assert [a.on_error for a in drawing.arrows] == [False, False, True, False]
    first = drawing.arrows[0].path
    assert first.startswith(f"M{boxes['a'].x + NODE_WIDTH},{boxes['a'].y + NODE_HEIGHT // 2} ")
    assert drawing.width >= boxes["d"].x + NODE_WIDTH and drawing.height >= max(b.y for b in boxes.values()) + NODE_HEIGHT
    assert {box.status for box in layout(definition).boxes} == {None}         # a definition: no statuses
