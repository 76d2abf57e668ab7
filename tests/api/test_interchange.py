"""Import and export: a Dify DSL document or an export of ours becomes a workflow with source
imported; an export carries what the workflow names (agents, tools, teams, workflows)."""
from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.api import workflow_fixture

API = "/api/v1"
DIFY = Path(__file__).resolve().parents[1] / "fixtures" / "dify"
HTTP_TOOL = {"kind": "http", "method": "GET", "url": "http://127.0.0.1:9/items/{{ arguments.id }}"}


def dify(name: str) -> str:
    return (DIFY / f"{name}.yml").read_text()


def test_post_workflows_takes_source_and_source_id(client):
    made = client.post(f"{API}/workflows", json={"definition": workflow_fixture("chain"), "source": "coze",
                                                 "source_id": "7351234567890"})
    assert made.status_code == 201 and (made.json["source"], made.json["source_id"]) == ("coze", "7351234567890")
    assert client.post(f"{API}/workflows", json={"definition": workflow_fixture("chain")}).json["source"] == "native"
    bad = client.post(f"{API}/workflows", json={"definition": workflow_fixture("chain"), "source": "zapier"})
    assert bad.status_code == 422 and "source" in bad.json["errors"]


def test_a_dify_workflow_maps_node_by_node(client):
    answer = client.post(f"{API}/workflows/import", json={"document": dify("article_digest")})
    assert answer.status_code == 201, answer.json
    assert (answer.json["format"], answer.json["references"], answer.json["warnings"]) == ("dify", [], [])
    workflow = answer.json["workflow"]
    assert (workflow["name"], workflow["source"], workflow["source_id"]) == (
        "article-digest", "imported", "dify:article-digest")
    definition = client.get(f"{API}/workflows/{workflow['id']}").json["definition"]
    nodes = {n["id"]: n for n in definition["nodes"]}
    assert [(n["name"], n["type"]) for n in definition["nodes"]] == [
        ("Start", "noop"), ("Fetch articles", "http_request"), ("Source answered?", "noop"), ("Summarise", "llm"),
        ("Format digest", "transform"), ("End", "transform"), ("Unavailable", "transform")]
    assert nodes["1733911200001"]["position"] == {"x": 30.0, "y": 282.0}
    assert definition["input_schema"]["required"] == ["url", "topic"]
    assert definition["input_schema"]["properties"]["topic"]["enum"] == ["agents", "python", "databases"]
    assert nodes["1733911200004"]["config"]["model"] == "openai/gpt-4o-mini"
    assert nodes["1733911200002"]["retry"]["max_attempts"] == 3
    conditions = {e["target"]: e.get("condition") for e in definition["edges"]}
    assert conditions["1733911200007"].startswith("not (") and conditions["1733911200004"].startswith("((")


def test_a_dify_model_can_be_mapped_to_one_of_yours(client):
    answer = client.post(f"{API}/workflows/import", json={"document": dify("article_digest"), "name": "digest",
                                                          "models": {"gpt-4o-mini": "offline/digest-1"}})
    definition = client.get(f"{API}/workflows/{answer.json['workflow']['id']}").json["definition"]
    assert answer.json["workflow"]["name"] == "digest"
    assert [n["config"]["model"] for n in definition["nodes"] if n["type"] == "llm"] == ["offline/digest-1"]


def test_dify_nodes_without_an_equivalent_are_refused_by_id_and_type(client):
    answer = client.post(f"{API}/workflows/import", json={"document": dify("support_answer")})
    assert answer.status_code == 422
    assert answer.json["message"] == ("3 Dify node(s) cannot be imported: 1734000000002 (knowledge-retrieval), "
                                      "1734000000003 (code), 1734000000004 (llm)")
    assert answer.json["errors"]["nodes"] == {
        "1734000000002": "knowledge-retrieval: Dify node type 'knowledge-retrieval' has no equivalent here",
        "1734000000003": "code: Dify node type 'code' has no equivalent here",
        "1734000000004": "llm: it reads the code node 1734000000003, which has no equivalent here"}
    assert client.get(f"{API}/workflows").json["items"] == []


def test_documents_that_are_neither_are_a_422_naming_why(client):
    cases = {
        "not: [valid": "not valid JSON or YAML",
        "name: x\nnodes: []": "neither an export of ours",
        "a: &x [1]\nb: *x": "aliases (*name) are not allowed",
    }
    for text, expected in cases.items():
        answer = client.post(f"{API}/workflows/import", json={"document": text})
        assert answer.status_code == 422 and expected in str(answer.json["errors"]["document"]), text
    chat = yaml.safe_load(dify("article_digest"))
    chat["app"]["mode"] = "agent-chat"
    answer = client.post(f"{API}/workflows/import", json={"document": chat})
    assert answer.status_code == 422 and "mode workflow or advanced-chat" in answer.json["message"]
    broken = yaml.safe_load(dify("article_digest"))
    broken["workflow"]["graph"]["nodes"][2]["data"]["cases"][0]["conditions"][0]["comparison_operator"] = "regex"
    answer = client.post(f"{API}/workflows/import", json={"document": broken})
    assert answer.json["errors"]["nodes"] == {
        "1733911200003": "if-else: comparison operator 'regex' has no equivalent here"}


def named_workflow(client):
    """A workflow naming an agent (with a tool), a team (with another agent), a tool and a subworkflow."""
    assert client.post(f"{API}/tools", json={"name": "lookup", "description": "Looks an item up",
                                             "config": HTTP_TOOL}).status_code == 201
    assert client.post(f"{API}/agents", json={"name": "researcher", "model": "acme/m1",
                                              "tools": ["lookup"]}).status_code == 201
    assert client.post(f"{API}/agents", json={"name": "writer", "model": "acme/m1"}).status_code == 201
    assert client.post(f"{API}/teams", json={"name": "newsroom", "topology_config": {
        "type": "sequential", "members": [{"name": "w", "agent": "writer"}]}}).status_code == 201
    definition = {"name": "briefing", "nodes": [
        {"id": "ask", "type": "agent", "config": {"agent": "researcher", "prompt": "{{ input.q }}"}},
        {"id": "write", "type": "team", "config": {"team": "newsroom", "task": "{{ nodes.ask.output.text }}"}},
        {"id": "look", "type": "tool", "config": {"tool": "lookup", "arguments": {"id": "1"}}},
        {"id": "more", "type": "subworkflow", "config": {"workflow": "chain", "input": {"n": 1}}}],
        "edges": [{"source": "ask", "target": "write"}]}
    return client.post(f"{API}/workflows", json={"definition": definition}).json["id"]


def test_an_export_carries_what_the_workflow_names_and_imports_back(client, other):
    workflow_id = named_workflow(client)
    exported = client.get(f"{API}/workflows/{workflow_id}/export")
    assert exported.status_code == 200
    document = exported.json
    assert (document["format"], document["format_version"], document["workflow"]["id"]) == (
        "orchestrator-workflow", 1, workflow_id)
    assert [a["name"] for a in document["agents"]] == ["researcher", "writer"]
    assert [(t["name"], t["config"]) for t in document["tools"]] == [("lookup", HTTP_TOOL)]
    assert [t["name"] for t in document["teams"]] == ["newsroom"] and document["workflows"] == ["chain"]

    imported = other.post(f"{API}/workflows/import", json={"document": yaml.safe_dump(document)})
    assert imported.status_code == 201, imported.json
    assert imported.json["references"] == [
        {"kind": "tool", "name": "lookup", "status": "created (pending approval)"},
        {"kind": "agent", "name": "researcher", "status": "created"},
        {"kind": "agent", "name": "writer", "status": "created"},
        {"kind": "team", "name": "newsroom", "status": "created"},
        {"kind": "workflow", "name": "chain", "status": "missing"}]
    assert imported.json["warnings"] == ["workflow 'chain' that it calls does not exist here"]
    workflow = imported.json["workflow"]
    assert (workflow["source"], workflow["source_id"]) == ("imported", workflow_id)
    assert other.get(f"{API}/workflows/{workflow['id']}").json["definition"] == document["definition"]

    again = client.post(f"{API}/workflows/import", json={"document": document})
    assert {r["status"] for r in again.json["references"]} == {"existing", "missing"}


def test_export_is_the_owners_and_bad_exports_are_422(client, other):
    workflow_id = client.post(f"{API}/workflows", json={"definition": workflow_fixture("chain")}).json["id"]
    assert other.get(f"{API}/workflows/{workflow_id}/export").status_code == 404
    client.put(f"{API}/workflows/{workflow_id}", json={"definition": {**workflow_fixture("chain"), "max_steps": 9}})
    assert client.get(f"{API}/workflows/{workflow_id}/export?version=1").json["workflow"]["version"] == 1
    assert client.get(f"{API}/workflows/{workflow_id}/export").json["definition"]["max_steps"] == 9
    assert client.get(f"{API}/workflows/{workflow_id}/export?version=7").status_code == 404
    document = client.get(f"{API}/workflows/{workflow_id}/export").json
    document["tools"] = [{"name": "t", "description": "d", "config": {"kind": "ftp"}}]
    answer = client.post(f"{API}/workflows/import", json={"document": document})
    assert answer.status_code == 422
    assert answer.json["errors"]["document"]["tools"]["0"]["config"]["kind"] == ["Must be one of: http, workflow."]
    document["tools"], document["definition"] = [], {"name": "x", "nodes": []}
    answer = client.post(f"{API}/workflows/import", json={"document": document})
    assert answer.status_code == 422 and answer.json["errors"]["definition"] == ["nodes: must list at least one node"]
