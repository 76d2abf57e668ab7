"""/api/v1/workflows: create, list, get, new versions, publish, archive; ownership."""
from __future__ import annotations

import json
import uuid
from datetime import datetime

import yaml

from tests.support.api import fan_out, workflow_fixture

WORKFLOW_FIELDS = {"id", "name", "description", "status", "latest_version", "squad_id", "published_version",
                   "created_at", "updated_at"}


def create(client, definition=None, **extra):
    response = client.post("/api/v1/workflows", json={"definition": definition or workflow_fixture("chain"), **extra})
    assert response.status_code == 201, response.json
    return response.json


def test_create_answers_version_1_as_a_draft(client):
    body = create(client, description="three steps")
    assert set(body) == WORKFLOW_FIELDS
    assert (body["name"], body["description"], body["status"]) == ("chain", "three steps", "draft")
    assert (body["latest_version"], body["published_version"]) == (1, None)
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None


def test_create_from_yaml_or_json_text_with_a_name_of_its_own(client):
    text = yaml.safe_dump(workflow_fixture("chain"))
    assert create(client, text, name="from yaml")["name"] == "from yaml"
    assert create(client, json.dumps(workflow_fixture("chain")))["name"] == "chain"


def test_an_invalid_definition_is_422_with_every_problem_under_definition(client):
    definition = {"name": "bad", "nodes": [{"id": "a", "type": "noop"}, {"id": "a", "type": "noop"},
                                           {"id": "b", "type": "nope"}],
                  "edges": [{"source": "a", "target": "ghost"}]}
    response = client.post("/api/v1/workflows", json={"definition": definition})
    assert response.status_code == 422
    body = response.json
    assert (body["code"], body["status"]) == (422, "Unprocessable Entity")
    assert body["message"] == "invalid workflow definition"
    problems = " | ".join(body["errors"]["definition"])
    assert "'a'" in problems and "nope" in problems and "ghost" in problems


def test_a_max_steps_below_the_node_count_is_422_naming_it_and_left_out_it_covers_the_definition(client):
    response = client.post("/api/v1/workflows", json={"definition": fan_out(600, max_steps=500)})
    assert response.status_code == 422
    [problem] = response.json["errors"]["definition"]
    assert problem.startswith("max_steps: 500 is fewer than the 602 nodes") and "at least 602" in problem
    created = create(client, fan_out(600))
    assert client.get(f"/api/v1/workflows/{created['id']}").json["definition"]["max_steps"] == 1204


def test_a_body_that_fails_its_schema_is_422_by_field(client):
    response = client.post("/api/v1/workflows", json={"definition": 5, "name": "", "extra": True})
    assert response.status_code == 422
    assert response.json["message"] == "invalid request; see errors"
    assert set(response.json["errors"]) == {"definition", "name", "extra"}
    assert client.post("/api/v1/workflows", json={}).json["errors"] == {
        "definition": ["Missing data for required field."]}


def test_get_one_has_the_decrypted_definition(client):
    created = create(client)
    body = client.get(f"/api/v1/workflows/{created['id']}").json
    assert set(body) == WORKFLOW_FIELDS | {"definition"}
    assert [n["id"] for n in body["definition"]["nodes"]] == ["a", "b", "c"]
    assert "definition" not in client.get("/api/v1/workflows").json["items"][0]


def test_list_pages_newest_first_with_an_opaque_cursor(client):
    ids = [create(client, name=f"w{i}")["id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/workflows", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})}).json
        assert set(page) == {"items", "next_cursor"} and len(page["items"]) <= 2
        seen += [w["id"] for w in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]


def test_list_rejects_a_bad_cursor_and_limit(client):
    response = client.get("/api/v1/workflows?cursor=not-ours")
    assert response.status_code == 422
    assert response.json["errors"] == {"cursor": ["not a cursor that this API returned"]}
    for limit in (0, 201, "x"):
        response = client.get(f"/api/v1/workflows?limit={limit}")
        assert response.status_code == 422 and "limit" in response.json["errors"]


def test_list_filters_by_status(client):
    create(client)
    draft = client.get("/api/v1/workflows?status=draft").json["items"]
    assert len(draft) == 1 and client.get("/api/v1/workflows?status=published").json["items"] == []


def test_list_filters_by_exact_name(client, other):
    wanted = [create(client, name="digest")["id"] for _ in range(2)]
    create(client, name="digest weekly")
    create(client, name="Digest")
    create(other, name="digest")
    page = client.get("/api/v1/workflows", query_string={"name": "digest"}).json
    assert [w["id"] for w in page["items"]] == wanted[::-1]
    assert client.get("/api/v1/workflows?name=dig").json["items"] == []
    assert "name" in client.get("/api/v1/workflows?name=").json["errors"]


def test_put_adds_an_immutable_version(client):
    wid = create(client)["id"]
    changed = workflow_fixture("chain") | {"output": {"changed": True}}
    response = client.put(f"/api/v1/workflows/{wid}", json={"definition": changed, "name": "renamed", "label": "v2"})
    assert response.status_code == 200
    assert (response.json["latest_version"], response.json["name"]) == (2, "renamed")
    assert client.get(f"/api/v1/workflows/{wid}").json["definition"]["output"] == {"changed": True}
    versions = client.get(f"/api/v1/workflows/{wid}/versions").json
    assert [(v["version"], v["label"]) for v in versions["items"]] == [(2, "v2"), (1, None)]
    first = client.get(f"/api/v1/workflows/{wid}/versions/1").json
    assert first["definition"]["output"] == {"result": "{{ nodes.c.output.n }}"}
    assert client.get(f"/api/v1/workflows/{wid}/versions/3").status_code == 404


def test_put_with_an_invalid_definition_keeps_the_version(client):
    wid = create(client)["id"]
    assert client.put(f"/api/v1/workflows/{wid}", json={"definition": "nodes: ["}).status_code == 422
    assert client.get(f"/api/v1/workflows/{wid}").json["latest_version"] == 1


def test_publish_pins_the_latest_or_a_given_version(client):
    wid = create(client)["id"]
    client.put(f"/api/v1/workflows/{wid}", json={"definition": workflow_fixture("chain")})
    body = client.post(f"/api/v1/workflows/{wid}/publish").json
    assert (body["status"], body["published_version"]) == ("published", 2)
    assert client.post(f"/api/v1/workflows/{wid}/publish", json={"version": 1}).json["published_version"] == 1
    response = client.post(f"/api/v1/workflows/{wid}/publish", json={"version": 9})
    assert response.status_code == 404 and response.json["message"] == f"workflow {wid} has no version 9"


def test_delete_archives_and_an_archived_workflow_takes_no_changes(client):
    wid = create(client)["id"]
    assert client.delete(f"/api/v1/workflows/{wid}").json["status"] == "archived"
    assert client.get(f"/api/v1/workflows/{wid}").json["status"] == "archived"
    for response in (client.put(f"/api/v1/workflows/{wid}", json={"definition": workflow_fixture("chain")}),
                     client.post(f"/api/v1/workflows/{wid}/publish"),
                     client.post(f"/api/v1/workflows/{wid}/executions", json={"input": {"n": 1}})):
        assert response.status_code == 409, response.json
        assert "archived" in response.json["message"]


def test_another_owners_workflow_is_404_everywhere(client, other):
    wid = create(client)["id"]
    base = f"/api/v1/workflows/{wid}"
    for response in (other.get(base), other.put(base, json={"definition": workflow_fixture("chain")}),
                     other.delete(base), other.post(f"{base}/publish"), other.get(f"{base}/versions"),
                     other.get(f"{base}/versions/1"), other.post(f"{base}/executions", json={})):
        assert response.status_code == 404
        assert response.json == {"code": 404, "status": "Not Found", "message": f"workflow {wid} not found",
                                 "errors": {}}
    assert other.get("/api/v1/workflows").json == {"items": [], "next_cursor": None}
    assert client.get(base).json["status"] == "draft"


def test_an_unknown_id_is_404(client):
    assert client.get(f"/api/v1/workflows/{uuid.uuid4()}").status_code == 404
    response = client.get("/api/v1/workflows/not-a-uuid")
    assert response.status_code == 404 and response.json["message"] == "not found: no such URL"


def test_validate_is_a_dry_run_with_warnings_for_unknown_nodes(client):
    definition = {"name": "typo", "nodes": [
        {"id": "a", "type": "noop"},
        {"id": "b", "type": "transform", "config": {"output": "{{ nodes.aa.output }}"}}],
        "edges": [{"source": "a", "target": "b", "condition": "nodes['zz'].status == 'completed'"}],
        "output": {"x": "{{ nodes.b.output }}"}}
    response = client.post("/api/v1/workflows/validate", json={"definition": definition})
    assert response.status_code == 200, response.json
    assert (response.json["name"], response.json["nodes"]) == ("typo", ["a", "b"])
    assert response.json["warnings"] == [
        "node b: $.output refers to nodes.aa, which is not a node of this workflow",
        "edge a -> b: condition \"nodes['zz'].status == 'completed'\" refers to nodes.zz, which is not a node of this workflow",
    ]
    assert client.get("/api/v1/workflows").json["items"] == []             # nothing stored


def test_validate_answers_the_same_422_as_create(client):
    bad = {"definition": {"name": "x", "nodes": [{"id": "a", "type": "nope"}]}}
    validated = client.post("/api/v1/workflows/validate", json=bad)
    created = client.post("/api/v1/workflows", json=bad)
    assert validated.status_code == created.status_code == 422
    assert validated.json == created.json
