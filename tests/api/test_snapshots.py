"""Workflow snapshots (seed 001): labelled, with who made them and a sealed structural diff."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from orchestrator.crypto import CryptoError, KeyRing, generate_key
from orchestrator.db import User, WorkflowSnapshot
from orchestrator.services.keys import rotate_keys
from orchestrator.services.snapshots import describe
from tests.support.api import workflow_fixture

API = "/api/v1"
TOKEN = "sk-live-0123456789abcdef"


def fetcher(url="https://example.com/a", token=TOKEN, timeout=10):
    return {"name": "fetcher", "nodes": [
        {"id": "fetch", "type": "http_request",
         "config": {"url": url, "headers": {"Authorization": f"Bearer {token}", "Accept": "application/json"}},
         "timeout_seconds": timeout},
        {"id": "keep", "type": "transform", "config": {"output": {"status": "{{ nodes.fetch.output.status_code }}"}}},
    ], "edges": [{"source": "fetch", "target": "keep"}]}


@pytest.fixture
def workflow_id(client):
    return client.post(f"{API}/workflows", json={"definition": fetcher()}).json["id"]


def snapshot(client, workflow_id, label, **body):
    answer = client.post(f"{API}/workflows/{workflow_id}/snapshots", json={"label": label, **body})
    assert answer.status_code == 201, answer.json
    return answer.json


def test_a_snapshot_diffs_against_the_previous_one_with_secrets_masked(stack, client, workflow_id):
    first = snapshot(client, workflow_id, "first draft")
    assert (first["version"], first["base_version"], first["summary"]) == (1, None, "2 nodes added, 1 edge added")
    changed = fetcher(url="https://example.com/b", token="sk-live-fedcba9876543210", timeout=20)
    changed["nodes"].append({"id": "log", "type": "noop"})
    changed["edges"].append({"source": "keep", "target": "log", "condition": "nodes.keep.output.status == 200"})
    client.put(f"{API}/workflows/{workflow_id}", json={"definition": changed})
    second = snapshot(client, workflow_id, "points at b")
    assert (second["version"], second["base_version"]) == (2, 1)
    diff = second["diff"]
    assert diff["summary"] == "1 node added, 1 node changed, 1 edge added"
    [fetch] = diff["nodes"]["changed"]
    assert fetch["id"] == "fetch" and fetch["changes"] == [
        {"path": "config.headers.Authorization", "before": "***", "after": "***"},
        {"path": "config.url", "before": "https://example.com/a", "after": "https://example.com/b"},
        {"path": "timeout_seconds", "before": 10, "after": 20}]
    assert diff["nodes"]["added"] == [{"id": "log", "type": "noop"}]
    assert diff["edges"]["added"] == [{"source": "keep", "target": "log", "on": "success",
                                       "condition": "nodes.keep.output.status == 200"}]
    assert TOKEN not in str(second) and "fedcba" not in str(second)
    with stack.engine.sessions() as session:
        admin = session.scalar(select(User.id).where(User.email == "admin@localhost"))
    assert second["created_by"] == str(admin)


def test_without_a_previous_snapshot_the_diff_is_from_the_version_before(client, workflow_id):
    client.put(f"{API}/workflows/{workflow_id}", json={"definition": fetcher(timeout=30)})
    made = snapshot(client, workflow_id, "v2")
    assert (made["base_version"], made["diff"]["summary"]) == (1, "1 node changed")
    older = snapshot(client, workflow_id, "v1 again", version=1)
    assert (older["version"], older["base_version"], older["summary"]) == (1, 2, "1 node changed")


def test_list_show_and_restore_as_a_new_version(client, workflow_id):
    kept = snapshot(client, workflow_id, "known good")
    client.put(f"{API}/workflows/{workflow_id}", json={"definition": fetcher(url="https://example.com/broken")})
    snapshot(client, workflow_id, "broken")
    listed = client.get(f"{API}/workflows/{workflow_id}/snapshots").json
    assert [s["label"] for s in listed["items"]] == ["broken", "known good"] and listed["next_cursor"] is None
    assert "diff" not in listed["items"][0] and listed["items"][0]["summary"] == "1 node changed"
    shown = client.get(f"{API}/workflows/{workflow_id}/snapshots/{kept['id']}").json
    assert shown["definition"]["nodes"][0]["config"]["url"] == "https://example.com/a"
    restored = client.post(f"{API}/workflows/{workflow_id}/snapshots/{kept['id']}/restore")
    assert restored.status_code == 200 and restored.json["latest_version"] == 3
    version = client.get(f"{API}/workflows/{workflow_id}/versions/3").json
    assert version["label"] == "restored from snapshot 'known good' (version 1)"
    assert version["definition"] == client.get(f"{API}/workflows/{workflow_id}/versions/1").json["definition"]
    actions = [e["action"] for e in client.get(f"{API}/audit-logs").json["items"]]
    assert actions[:3] == ["workflow.restore", "snapshot.create", "workflow.update"]


def test_the_diff_is_sealed_at_rest_bound_to_its_row_and_rotates(stack, client, workflow_id):
    first = snapshot(client, workflow_id, "one")
    second = snapshot(client, workflow_id, "two")
    with stack.engine.sessions() as session, session.begin():
        rows = {str(r.id): r for r in session.scalars(select(WorkflowSnapshot))}
        assert b"fetch" not in rows[first["id"]].diff_encrypted
        sealed = {i: (rows[i].diff_encrypted, rows[i].diff_iv) for i in rows}
    moved = update(WorkflowSnapshot).where(WorkflowSnapshot.id == uuid.UUID(second["id"]))
    with stack.engine.sessions() as session, session.begin():      # the first's diff in the second's row
        session.execute(moved.values(diff_encrypted=sealed[first["id"]][0], diff_iv=sealed[first["id"]][1]))
    with stack.engine.sessions() as session, pytest.raises(CryptoError, match="failed authentication"):
        owner = session.scalar(select(User).where(User.email == "admin@localhost"))
        describe(session, stack.engine.keyring, owner, uuid.UUID(workflow_id), uuid.UUID(second["id"]))
    with stack.engine.sessions() as session, session.begin():
        session.execute(moved.values(diff_encrypted=sealed[second["id"]][0], diff_iv=sealed[second["id"]][1]))
    new_keys = KeyRing.from_strings([generate_key(), *stack.engine.settings.encryption_keys])
    with stack.engine.sessions() as session, session.begin():
        assert rotate_keys(session, new_keys) >= 3        # the version and both snapshots
        owner = session.scalar(select(User).where(User.email == "admin@localhost"))
        assert describe(session, new_keys, owner, uuid.UUID(workflow_id),
                        uuid.UUID(first["id"]))["summary"] == "2 nodes added, 1 edge added"


def test_another_owners_workflow_or_snapshot_answers_404_and_bad_input_422(client, other, workflow_id):
    made = snapshot(client, workflow_id, "mine")
    assert other.post(f"{API}/workflows/{workflow_id}/snapshots", json={"label": "x"}).status_code == 404
    assert other.get(f"{API}/workflows/{workflow_id}/snapshots/{made['id']}").status_code == 404
    assert other.post(f"{API}/workflows/{workflow_id}/snapshots/{made['id']}/restore").status_code == 404
    theirs = other.post(f"{API}/workflows", json={"definition": workflow_fixture("chain")}).json["id"]
    assert client.get(f"{API}/workflows/{theirs}/snapshots/{made['id']}").status_code == 404
    assert client.post(f"{API}/workflows/{workflow_id}/snapshots", json={}).json["errors"] == {
        "label": ["Missing data for required field."]}
    missing = client.post(f"{API}/workflows/{workflow_id}/snapshots", json={"label": "x", "version": 9})
    assert missing.status_code == 404 and missing.json["message"] == f"workflow {workflow_id} has no version 9"
