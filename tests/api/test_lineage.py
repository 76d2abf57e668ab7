"""Lineage (what started an execution, what it started) and the artifacts steps produce (seed 003)."""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime

import pytest
from sqlalchemy import select

from orchestrator.db import ExecutionArtifact
from orchestrator.schedules.firing import fire_due
from orchestrator.services.artifacts import MAX_ARTIFACT_BYTES, Refused, parse_entry
from tests.support.api import new_workflow, submit, workflow_fixture

API = "/api/v1"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
REPORT = "# Weekly report\n\nAll green.\n"


def test_an_api_submission_names_its_key(stack, client):
    execution_id = stack.start(client, "chain", {"n": 1})
    lineage = client.get(f"{API}/executions/{execution_id}/lineage").json
    assert (lineage["execution_id"], lineage["trigger"], lineage["started"]) == (execution_id, "api", [])
    [origin] = lineage["started_by"]
    assert origin["kind"] == "api_key" and origin["label"] == "API key ork_tests_bo… (bootstrap)"


def test_a_scheduled_run_names_its_schedule(stack, client):
    workflow_id = new_workflow(client)
    schedule = client.post(f"{API}/workflows/{workflow_id}/schedules",
                           json={"cron_expression": "0 9 * * *", "timezone": "Europe/Paris", "input": {"n": 1}}).json
    fire_due(stack.engine, datetime.fromisoformat(schedule["next_run_at"]))
    [execution] = client.get(f"{API}/executions").json["items"]
    origins = client.get(f"{API}/executions/{execution['id']}/lineage").json["started_by"]
    assert [(o["kind"], o["ref_id"], o["label"]) for o in origins] == [
        ("schedule", schedule["id"], "schedule 0 9 * * * (Europe/Paris)")]


def test_a_parent_lists_the_children_it_started_and_each_child_its_parent(stack, client):
    child = client.post(f"{API}/workflows", json={"definition": workflow_fixture("chain")}).json
    parent = {"name": "per-item", "nodes": [{"id": "each", "type": "subworkflow", "config": {
        "workflow": "chain", "for_each": "{{ [1, 2, 3] }}", "max_concurrency": 3, "input": {"n": "{{ item }}"}}}]}
    parent_id = client.post(f"{API}/workflows", json={"definition": parent}).json["id"]
    execution_id = submit(client, parent_id).json["id"]
    stack.run()
    assert client.get(f"{API}/executions/{execution_id}").json["status"] == "completed"
    started = client.get(f"{API}/executions/{execution_id}/lineage").json["started"]
    assert len(started) == 3 and {s["kind"] for s in started} == {"parent"}
    assert {(s["workflow_id"], s["workflow_name"], s["status"]) for s in started} == {
        (child["id"], "chain", "completed")}
    lineage = client.get(f"{API}/executions/{started[0]['execution_id']}/lineage").json
    [origin] = lineage["started_by"]
    assert (origin["kind"], origin["ref_id"], lineage["trigger"]) == ("parent", execution_id, "subworkflow")
    assert origin["label"] == "execution of per-item (completed)" and origin["metadata"]["map_index"] in (0, 1, 2)


def artifacts_workflow(*entries):
    return {"name": "report", "nodes": [{"id": "report", "type": "transform",
                                         "config": {"output": {"pages": 1, "artifacts": list(entries)}}}]}


def test_a_steps_artifacts_are_stored_listed_and_downloaded(stack, client):
    workflow_id = client.post(f"{API}/workflows", json={"definition": artifacts_workflow(
        {"name": "report.md", "content": "{{ input.text }}"},
        {"name": "chart.png", "content_base64": base64.b64encode(PNG).decode()},
        {"name": "dump.parquet", "uri": "s3://reports/2026/w49/dump.parquet"},
        {"name": "../etc/passwd", "content": "x"},
        {"name": "local", "uri": "file:///etc/passwd"})}).json["id"]
    execution_id = submit(client, workflow_id, {"text": REPORT}).json["id"]
    stack.run()
    listed = client.get(f"{API}/executions/{execution_id}/artifacts").json["items"]
    by_name = {a["name"]: a for a in listed}
    assert set(by_name) == {"report.md", "chart.png", "dump.parquet"}
    assert (by_name["report.md"]["media_type"], by_name["report.md"]["size_bytes"]) == ("text/markdown", len(REPORT))
    assert by_name["chart.png"]["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (by_name["dump.parquet"]["ref_type"], by_name["dump.parquet"]["size_bytes"]) == ("uri", None)

    got = client.get(f"{API}/executions/{execution_id}/artifacts/{by_name['chart.png']['id']}/content")
    assert (got.status_code, got.data, got.mimetype) == (200, PNG, "image/png")
    assert got.headers["Content-Disposition"] == "attachment; filename=\"chart.png\"; filename*=UTF-8''chart.png"
    text = client.get(f"{API}/executions/{execution_id}/artifacts/{by_name['report.md']['id']}/content")
    assert text.data.decode() == REPORT
    reference = client.get(f"{API}/executions/{execution_id}/artifacts/{by_name['dump.parquet']['id']}/content")
    assert (reference.status_code, reference.headers["Location"]) == (303, "s3://reports/2026/w49/dump.parquet")

    [step] = client.get(f"{API}/executions/{execution_id}/steps").json["items"]
    kept = step["output"]["artifacts"]
    assert kept[0] == {"artifact_id": by_name["report.md"]["id"], "name": "report.md", "media_type": "text/markdown",
                       "size_bytes": len(REPORT), "sha256": hashlib.sha256(REPORT.encode()).hexdigest()}
    assert kept[3] == {"name": "../etc/passwd", "content": "x"}          # refused: left as it was
    events = client.get(f"{API}/executions/{execution_id}/events").json["items"]
    refused = [e["message"] for e in events if e["event_type"] == "artifact_refused"]
    assert refused == ['artifact 3: name must be 1-255 characters without / \\ " or control characters',
                       "artifact 4: a uri may not be a file: URI"]
    with stack.engine.sessions() as session:
        assert session.scalar(select(ExecutionArtifact.content).where(ExecutionArtifact.name == "chart.png")) == PNG


def test_artifacts_are_their_owners(stack, client, other):
    workflow_id = client.post(f"{API}/workflows", json={"definition": artifacts_workflow(
        {"name": "a.txt", "content": "a"})}).json["id"]
    execution_id = submit(client, workflow_id, {}).json["id"]
    stack.run()
    [artifact] = client.get(f"{API}/executions/{execution_id}/artifacts").json["items"]
    for path in ("/lineage", "/artifacts", f"/artifacts/{artifact['id']}", f"/artifacts/{artifact['id']}/content"):
        assert other.get(f"{API}/executions/{execution_id}{path}").status_code == 404, path
    theirs = other.post(f"{API}/workflows", json={"definition": workflow_fixture("chain")}).json["id"]
    their_execution = submit(other, theirs, {"n": 1}).json["id"]
    assert client.get(f"{API}/executions/{their_execution}/artifacts/{artifact['id']}").status_code == 404


@pytest.mark.parametrize("entry, why", [
    ({"name": "big.bin", "content_base64": base64.b64encode(b"x" * (MAX_ARTIFACT_BYTES + 1)).decode()},
     "1048577 bytes of content: at most 1048576 are stored"),
    ({"name": "x", "content_base64": "not base64!"}, "content_base64 is not base64"),
    ({"name": "x", "content": "a", "media_type": "text/plain\r\nX-Evil: 1"}, "media_type must be a media type"),
    ({"name": "x"}, "give content, content_base64 or uri"),
    ({"name": "x", "uri": "javascript:alert(1)"}, "give content, content_base64 or uri"),
    ("report.md", "an artifact must be an object"),
])
def test_an_entry_that_breaks_the_contract_is_refused_saying_why(entry, why):
    with pytest.raises(Refused, match="^" + why.replace("(", r"\(").replace(".", r"\.")):
        parse_entry(entry)
