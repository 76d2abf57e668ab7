"""/api/v1/agents, /tools, /teams, /squads and /templates: owner scoping, admin review of tools,
topology checks naming the culprit, squads publishing, templates counting their use."""
from __future__ import annotations

from sqlalchemy import select

from orchestrator.cli.main import main
from orchestrator.agents.templates import BUILTIN_TEMPLATES
from orchestrator.db import WorkflowTemplate
from orchestrator.db.session import transaction
from orchestrator.services.templates import install_builtin

HTTP_TOOL = {"kind": "http", "method": "GET", "url": "http://127.0.0.1:9/items/{{ arguments.id }}"}


def tool(client, name="lookup", **fields):
    response = client.post("/api/v1/tools", json={"name": name, "description": "Looks an item up",
                                                  "input_schema": {"type": "object", "required": ["id"],
                                                                   "properties": {"id": {"type": "string"}}},
                                                  "config": HTTP_TOOL, **fields})
    assert response.status_code == 201, response.json
    return response.json


def agent(client, name="helper", **fields):
    response = client.post("/api/v1/agents", json={"name": name, "model": "acme/m1", **fields})
    assert response.status_code == 201, response.json
    return response.json


def test_tools_are_pending_until_an_admin_approves_them(client, other):
    own = tool(client)                                     # the bootstrap key's owner is an admin
    assert own["status"] == "approved"
    theirs = tool(other, "fetch")
    assert theirs["status"] == "pending"
    assert other.post(f"/api/v1/tools/{theirs['id']}/approve").status_code == 403
    assert client.post(f"/api/v1/tools/{theirs['id']}/reject").json["status"] == "rejected"
    assert client.post(f"/api/v1/tools/{theirs['id']}/approve").json["status"] == "approved"
    assert other.get(f"/api/v1/tools/{own['id']}").status_code == 404          # private
    changed = other.patch(f"/api/v1/tools/{theirs['id']}", json={"config": {**HTTP_TOOL, "method": "POST"}})
    assert changed.json["status"] == "pending"            # a changed tool is reviewed again
    assert other.post("/api/v1/tools", json={"name": "fetch", "description": "d", "config": HTTP_TOOL}) \
        .status_code == 409


def test_tool_config_and_schema_are_checked(client):
    bad = client.post("/api/v1/tools", json={"name": "w", "description": "d", "config": {"kind": "workflow"}})
    assert bad.status_code == 422 and "workflow_id" in str(bad.json["errors"])
    bad = client.post("/api/v1/tools", json={"name": "h", "description": "d", "config": HTTP_TOOL,
                                             "input_schema": {"type": "nope"}})
    assert bad.status_code == 422 and bad.json["message"] == "input_schema is not a valid JSON Schema"
    assert client.post("/api/v1/tools", json={"name": "has space", "description": "d",
                                              "config": HTTP_TOOL}).status_code == 422


def test_shared_tools_are_seen_by_every_owner(client, other):
    shared = tool(client, "weather", visibility="shared")
    assert other.get(f"/api/v1/tools/{shared['id']}").json["name"] == "weather"
    assert agent(other, tools=["weather"])["tools"] == ["weather"]


def test_agents_name_their_tools_and_are_per_owner(client, other):
    bad = client.post("/api/v1/agents", json={"name": "a", "model": "acme/m1", "tools": ["nope"]})
    assert bad.status_code == 422 and bad.json["message"] == "unknown tool(s): nope"
    assert client.post("/api/v1/agents", json={"name": "a", "model": "no-slash"}).status_code == 422
    created = agent(client)
    assert (created["max_iterations"], created["status"], created["tools"]) == (10, "active", [])
    assert client.post("/api/v1/agents", json={"name": "helper", "model": "acme/m1"}).status_code == 409
    assert agent(other)["name"] == "helper"
    assert other.get(f"/api/v1/agents/{created['id']}").status_code == 404
    assert client.patch(f"/api/v1/agents/{created['id']}", json={"max_iterations": 3}).json["max_iterations"] == 3
    assert client.delete(f"/api/v1/agents/{created['id']}").status_code == 204


def test_team_topology_errors_name_the_culprit(client):
    agent(client, "writer")
    post = lambda topology: client.post("/api/v1/teams", json={"name": "t", "topology_config": topology})  # noqa: E731
    unknown = post({"type": "sequential", "members": [{"name": "w", "agent": "writer"}, {"name": "r", "agent": "ghost"}]})
    assert unknown.status_code == 422 and "member 'r': no agent named 'ghost'" in unknown.json["message"]
    empty = post({"type": "round_robin", "members": []})
    assert empty.status_code == 422 and "the team has no members" in empty.json["message"]
    unsupervised = post({"type": "supervisor", "members": [{"name": "w", "agent": "writer"}]})
    assert unsupervised.status_code == 422 and "supervisor.model" in unsupervised.json["message"]
    inline = post({"type": "sequential", "members": [{"name": "x", "agent": {"instructions": "no model"}}]})
    assert inline.status_code == 422 and "member 'x': an inline agent needs a model" in inline.json["message"]
    created = post({"type": "supervisor", "supervisor": {"model": "acme/m1"},
                    "members": [{"name": "w", "agent": "writer"}, {"name": "c", "agent": {"model": "acme/m2"}}]})
    assert created.status_code == 201, created.json
    assert (created.json["timeout_seconds"], created.json["max_iterations"]) == (300, 50)


def test_squads_members_publish_and_a_team_drawing_on_one(client, other):
    leader, member = agent(client, "lead"), agent(client, "worker")
    squad = client.post("/api/v1/squads", json={"name": "crew", "price_per_execution": 0.5}).json
    assert squad["status"] == "draft"
    assert client.post(f"/api/v1/squads/{squad['id']}/publish").status_code == 409      # no members yet
    assert client.post(f"/api/v1/squads/{squad['id']}/members",
                       json={"agent_id": leader["id"], "role": "leader"}).status_code == 201
    assert client.post(f"/api/v1/squads/{squad['id']}/members",
                       json={"agent_id": member["id"], "role": "leader"}).status_code == 409
    client.post(f"/api/v1/squads/{squad['id']}/members", json={"agent_id": member["id"]})
    assert [m["role"] for m in client.get(f"/api/v1/squads/{squad['id']}/members").json["items"]] == \
        ["leader", "member"]
    published = client.post(f"/api/v1/squads/{squad['id']}/publish").json
    assert published["status"] == "active" and published["published_at"]
    team = client.post("/api/v1/teams", json={"name": "t", "topology_config": {"type": "supervisor",
                                                                               "squad_id": squad["id"]}})
    assert team.status_code == 201, team.json
    assert other.get(f"/api/v1/squads/{squad['id']}").status_code == 404
    client.delete(f"/api/v1/agents/{member['id']}")                                   # leaves the squad
    assert len(client.get(f"/api/v1/squads/{squad['id']}/members").json["items"]) == 1


def test_templates_instantiate_and_count(client, other):
    definition = {"name": "hello", "nodes": [{"id": "a", "type": "noop"}]}
    bad = client.post("/api/v1/templates", json={"name": "x", "definition": {"nodes": "no"}})
    assert bad.status_code == 422
    created = client.post("/api/v1/templates", json={"name": "hello", "category": "demo", "definition": definition})
    assert created.status_code == 201 and created.json["is_builtin"] is False
    made = client.post(f"/api/v1/templates/{created.json['id']}/instantiate", json={"name": "mine"})
    assert made.status_code == 201 and made.json["name"] == "mine"
    assert client.get(f"/api/v1/workflows/{made.json['id']}").json["name"] == "mine"
    assert client.get(f"/api/v1/templates/{created.json['id']}").json["usage_count"] == 1
    assert [t["name"] for t in client.get("/api/v1/templates?category=demo").json["items"]] == ["hello"]
    assert other.get(f"/api/v1/templates/{created.json['id']}").status_code == 404


def test_db_upgrade_installs_the_builtin_templates_once_and_updates_them(migrated_settings, capsys):
    assert main(["db", "upgrade"]) == 0
    assert f"built-in templates: {len(BUILTIN_TEMPLATES)} added or updated" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert "built-in templates: 0 added or updated" in capsys.readouterr().out
    with transaction() as s:
        rows = s.scalars(select(WorkflowTemplate).where(WorkflowTemplate.is_builtin)).all()
        assert sorted(r.name for r in rows) == sorted(t["name"] for t in BUILTIN_TEMPLATES)
        assert install_builtin(s, [{**BUILTIN_TEMPLATES[0], "description": "new words"}]) == 1
    with transaction() as s:
        assert s.scalar(select(WorkflowTemplate.description).where(
            WorkflowTemplate.name == BUILTIN_TEMPLATES[0]["name"])) == "new words"
        assert install_builtin(s) == 1                   # back to what ships


def test_a_squads_price_is_added_to_the_cost_of_each_execution_of_its_workflows(stack, client, other):
    squad = client.post("/api/v1/squads", json={"name": "priced", "price_per_execution": 0.25}).json
    definition = {"name": "priced", "nodes": [{"id": "a", "type": "noop"}]}
    assert other.post("/api/v1/workflows", json={"definition": definition,
                                                 "squad_id": squad["id"]}).status_code == 404   # not theirs
    workflow = client.post("/api/v1/workflows", json={"definition": definition, "squad_id": squad["id"]}).json
    assert workflow["squad_id"] == squad["id"]
    plain = client.post("/api/v1/workflows", json={"definition": {**definition, "name": "plain"}}).json
    priced_run = client.post(f"/api/v1/workflows/{workflow['id']}/executions", json={"input": {}}).json["id"]
    plain_run = client.post(f"/api/v1/workflows/{plain['id']}/executions", json={"input": {}}).json["id"]
    stack.run()
    priced, unpriced = (client.get(f"/api/v1/executions/{i}").json for i in (priced_run, plain_run))
    assert priced["status"] == "completed" and priced["total_cost"] == 0.25 and priced["total_tokens"] == 0
    assert unpriced["total_cost"] is None
