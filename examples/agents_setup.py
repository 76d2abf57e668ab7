"""Setup for the offline agent examples (``make example-agent``, ``make example-team``): stores
the tools, agents and team on the embedded database (as the admin, so the tools are approved at
once), and scripts the offline model provider so its answers use them.

    python -m examples.agents_setup agent|team --service URL --llm URL [--model offline/agent-1]

The same rows can be made over the REST API (POST /api/v1/tools, /agents, /teams): see README.
"""
from __future__ import annotations

import argparse
import json
import urllib.request

from examples import llm_server as llm
from orchestrator.db.session import transaction
from orchestrator.services import agents
from orchestrator.services.api_keys import ADMIN_EMAIL, get_or_create_user

TOPIC = {"type": "object", "required": ["topic"],
         "properties": {"topic": {"type": "string", "enum": ["agents", "python", "databases"]}}}
KEY = {"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}}


def store(service: str, model: str, team: bool) -> None:
    with transaction() as session:
        admin = get_or_create_user(session, ADMIN_EMAIL, is_admin=True)
        agents.create_tool(session, admin, "articles", {"kind": "http", "method": "GET",
                                                        "url": service + "/articles?topic={{ arguments.topic }}"},
                           TOPIC, description="Lists the articles on a topic", category="news")
        agents.create_tool(session, admin, "service_status", {"kind": "http", "method": "GET",
                                                              "url": service + "/flaky?key={{ arguments.key }}&fail=0"},
                           KEY, description="Tells whether the news service is up", category="ops")
        agents.create_agent(session, admin, "researcher", model=model, start="", goal="find facts in the news",
                            instructions="Use your tools, then answer in one sentence.",
                            tools=["articles", "service_status"])
        if team:
            agents.create_agent(session, admin, "writer", model=model, start="", goal="write for busy engineers",
                                instructions="Turn facts into a two-line brief.")
            agents.create_team(session, admin, "newsroom", {
                "type": "supervisor", "supervisor": {"model": model, "instructions": "Research first, then write."},
                "members": [{"name": "researcher", "agent": "researcher"}, {"name": "writer", "agent": "writer"}]},
                description="A researcher and a writer, supervised", max_iterations=6)


def script(llm_url: str, team: bool) -> None:
    research = [llm.tool_call("service_status", {"key": "example"}), llm.tool_call("articles", {"topic": "agents"}),
                llm.text("Two agent articles: planning before acting, and safe tool use.")]
    replies = research
    if team:
        replies = [llm.json_reply({"next": "researcher", "instruction": "Find what is new on agents."}), *research,
                   llm.json_reply({"next": "writer", "instruction": "Write the brief."}),
                   llm.text("Agents: plan first, then use tools safely. Two reads worth your time."),
                   llm.json_reply({"next": "FINISH", "instruction": "Done."})]
    request = urllib.request.Request(llm_url + "/_script", data=json.dumps({"replies": replies}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("example", choices=["agent", "team"])
    parser.add_argument("--service", required=True, help="examples/service.py's URL")
    parser.add_argument("--llm", required=True, help="the offline model provider's URL")
    parser.add_argument("--model", default="offline/agent-1")
    args = parser.parse_args()
    store(args.service, args.model, args.example == "team")
    script(args.llm, args.example == "team")


if __name__ == "__main__":
    main()
