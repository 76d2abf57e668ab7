"""`orchestrator agents|tools|teams`: made from YAML or JSON files through the API, listed,
shown and deleted by name; tools approved by an admin."""
from __future__ import annotations

import json

TOOL = """name: articles
description: Lists the articles on a topic
input_schema: {type: object, properties: {topic: {type: string}}}
config: {kind: http, method: GET, url: 'https://news.example/articles?topic={{ arguments.topic }}'}
"""
TEAM = """name: newsroom
topology_config:
  type: round_robin
  members: [{name: researcher, agent: researcher}]
"""


def test_tools_agents_and_teams_from_files(cli, tmp_path):
    (tmp_path / "tool.yaml").write_text(TOOL)
    (tmp_path / "agent.json").write_text(json.dumps({"name": "researcher", "model": "acme/m1", "tools": ["articles"],
                                                     "instructions": "Use your tools."}))
    (tmp_path / "team.yaml").write_text(TEAM)
    assert cli("tools", "create", str(tmp_path / "tool.yaml")).startswith("created tool articles (")
    created = cli("agents", "create", str(tmp_path / "agent.json"), "--json")
    assert (created["name"], created["tools"], created["status"]) == ("researcher", ["articles"], "active")
    assert "created team newsroom" in cli("teams", "create", str(tmp_path / "team.yaml"))

    tools = cli("tools", "list")
    assert "articles" in tools and "approved" in tools and "http" in tools       # an admin's own is approved
    agents = cli("agents", "list", "--json")
    assert agents["next_cursor"] is None and [a["id"] for a in agents["items"]] == [created["id"]]
    assert created["id"] in cli("agents", "list") and "acme/m1" in cli("agents", "list")
    assert "round_robin" in cli("teams", "list") and "researcher" in cli("teams", "list")
    assert cli("agents", "show", "researcher", "--json") == cli("agents", "show", created["id"], "--json")
    assert '"instructions": "Use your tools."' in cli("agents", "show", "researcher")

    assert cli("tools", "reject", "articles", "--json")["status"] == "rejected"
    assert cli("tools", "approve", "articles") == "tool articles: approved\n"
    assert cli("teams", "delete", "newsroom") == "deleted team newsroom\n"
    assert cli("teams", "list", "--json")["items"] == []
    assert cli("teams", "delete", "newsroom", code=2) == \
        "error: no team named 'newsroom' (see `orchestrator teams list`)\n"


def test_bad_files_and_refusals_are_one_line(cli, tmp_path):
    listed = tmp_path / "two.yaml"
    listed.write_text("- name: a\n- name: b\n")
    assert cli("agents", "create", str(listed), code=2) == (
        f"error: {listed} must hold one mapping of the agent's fields (name, model, instructions, tools; see /docs)\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [\n")
    assert cli("teams", "create", str(broken), code=2).startswith(f"error: {broken} is not YAML or JSON: ")
    unknown_tool = tmp_path / "agent.yaml"
    unknown_tool.write_text("name: lost\nmodel: acme/m1\ntools: [nowhere]\n")
    out = cli("agents", "create", str(unknown_tool), code=2)
    assert out.startswith("error: POST /agents: 422") and "nowhere" in out and out.count("\n") == 1
