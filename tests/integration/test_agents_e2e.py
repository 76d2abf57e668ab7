"""The ``agent`` and ``tool`` nodes end to end: PostgreSQL, Redis, `celery worker` processes, the
offline model provider over HTTP and a local HTTP service for the tools."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from examples import llm_server as llm
from orchestrator.db import A2AMessage, Execution, HumanApproval, Tool, WorkflowTemplate
from orchestrator.nodes.base import Suspend
from orchestrator.services import agents, api_keys, approvals, executions, providers, templates, workflows
from tests.integration import test_llm_e2e as llm_e2e
from tests.support.stack import finished, submit, wait_until
from tests.support.waiting import until

# The LLM end-to-end stack: the offline provider, providers acme and backup with models m1 and m2.
provider_server, stack, fresh_provider, calls_of = \
    llm_e2e.provider_server, llm_e2e.stack, llm_e2e.fresh_provider, llm_e2e.calls_of

pytestmark = pytest.mark.integration
ARGS = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
CITY = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
resumable_approvals = pytest.mark.skipif("state" not in Suspend.__dataclass_fields__,
                                         reason="needs the engine's resumable approvals (Suspend(state=...))")


@pytest.fixture(scope="module")
def admin(stack):
    with stack.engine.sessions.begin() as s:
        return api_keys.get_or_create_user(s, "admin@example.com", is_admin=True)


def make_tool(stack, admin, name, config, schema=ARGS, *, approve=True, owner=None, **fields):
    """A tool of ``owner`` (default: the stack's), approved by the admin unless ``approve=False``."""
    with stack.engine.sessions.begin() as s:
        existing = s.scalar(select(Tool).where(Tool.name == name))
        if existing is not None:
            return existing.id
        tool = agents.create_tool(s, s.merge(owner or stack.owner), name, config, schema,
                                  description=f"the {name} tool", **fields)
        if approve:
            agents.review_tool(s, s.merge(admin), tool.id, approved=True)
        return tool.id


@pytest.fixture(scope="module")
def tools(stack, admin):
    make_tool(stack, admin, "lookup", {"kind": "http", "method": "GET", "url": stack.http.url + "/items/{{ arguments.id }}"})
    make_tool(stack, admin, "weather", {"kind": "http", "method": "GET",
                                        "url": stack.http.url + "/weather?city={{ arguments.city }}"}, CITY)
    with stack.engine.sessions.begin() as s:
        agents.create_agent(s, s.merge(stack.owner), "helper", model="acme/m1", start="", goal="answer questions",
                            instructions="Use the tools.", tools=["lookup", "weather"])


def agent_workflow(**config):
    return {"name": "agent", "nodes": [{"id": "assist", "type": "agent",
                                        "config": {"agent": "helper", "prompt": "{{ input.question }}", **config}}]}


def test_an_agent_calls_two_tools_then_answers(stack, provider_server, tools):
    provider_server.script(llm.tool_call("lookup", {"id": "42"}), llm.tool_call("weather", {"city": "Oslo"}),
                           llm.text("Item 42 exists and Oslo is sunny."))
    execution_id = submit(stack, agent_workflow(), {"question": "Tell me about item 42 and Oslo"})
    execution, steps, events = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    output = steps["assist"].output
    assert (output["text"], output["stop_reason"], output["iterations"]) == \
        ("Item 42 exists and Oslo is sunny.", "final", 3)
    assert output["tool_calls"] == [{"name": "lookup", "arguments": {"id": "42"}, "status": "ok"},
                                    {"name": "weather", "arguments": {"city": "Oslo"}, "status": "ok"}]
    calls = calls_of(stack, execution_id)
    assert [(c.turn, c.kind, c.target, c.status) for c in calls] == [
        (0, "llm", "acme/m1", "ok"), (1, "tool", "lookup", "ok"), (2, "llm", "acme/m1", "ok"),
        (3, "tool", "weather", "ok"), (4, "llm", "acme/m1", "ok")]
    llm_usage = [c.usage for c in calls if c.kind == "llm"]
    assert output["usage"]["total_tokens"] == sum(u["total_tokens"] for u in llm_usage) == execution.total_tokens
    assert output["usage"]["prompt_tokens"] == sum(u["prompt_tokens"] for u in llm_usage)
    first, second, _ = provider_server.requests
    assert [t["function"]["name"] for t in first.body["tools"]] == ["lookup", "weather"]
    tool_message = second.messages[-1]
    assert tool_message["role"] == "tool" and json.loads(tool_message["content"])["path"] == "/items/42"
    assert [(e.data["tool"], e.data["status"]) for e in events if e.event_type == "tool_call"] == \
        [("lookup", "ok"), ("weather", "ok")]
    assert stack.http.idempotency_keys[-2:] == [f"{execution_id}:assist:1:1", f"{execution_id}:assist:1:3"]


def test_an_agent_on_the_anthropic_protocol_gets_tool_use_and_tool_result_blocks(stack, provider_server, tools):
    with stack.engine.sessions.begin() as s:
        owner = s.merge(stack.owner)
        provider = providers.create_provider(s, owner, "claude", "anthropic")
        providers.create_endpoint(s, stack.engine.settings, owner, provider.id, "main", provider_server.url)
        providers.create_model(s, owner, provider.id, "c1", input_price=1.0, output_price=5.0)
        providers.create_credential(s, stack.engine.keyring, owner, provider.id, "sk-ant-e2e-0123456789abcdef")
    provider_server.script(llm.tool_call("lookup", {"id": "5"}), llm.text("item 5 exists"))
    execution_id = submit(stack, agent_workflow(agent={"model": "claude/c1", "tools": ["lookup"],
                                                       "instructions": "Be brief."}), {"question": "Item 5?"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    assert steps["assist"].output["text"] == "item 5 exists"
    first, second = provider_server.requests
    assert first.protocol == "anthropic" and first.body["tools"][0]["name"] == "lookup"
    assert first.body["tools"][0]["input_schema"] == ARGS and first.body["system"] == "Be brief."
    assistant, result = second.messages[-2:]
    assert [b["type"] for b in assistant["content"]] == ["tool_use"] and assistant["content"][0]["input"] == {"id": "5"}
    assert result["role"] == "user" and result["content"][0]["type"] == "tool_result"
    assert result["content"][0]["tool_use_id"] == assistant["content"][0]["id"]


def test_max_iterations_ends_the_loop(stack, provider_server, tools):
    provider_server.script(*[llm.tool_call("lookup", {"id": str(i)}) for i in range(3)])
    execution_id = submit(stack, agent_workflow(max_iterations=2), {"question": "loop"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    output = steps["assist"].output
    assert (output["stop_reason"], output["iterations"], len(output["tool_calls"])) == ("max_iterations", 2, 2)
    assert len(provider_server.requests) == 2


def test_a_bad_tool_call_goes_back_to_the_model(stack, provider_server, tools):
    provider_server.script(llm.tool_call("lookup", {"wrong": 1}), llm.tool_call("launch", {}), llm.text("sorry"))
    execution_id = submit(stack, agent_workflow(), {"question": "q"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    assert [c["status"] for c in steps["assist"].output["tool_calls"]] == ["error", "error"]
    told = [json.loads(m["content"])["error"] for m in provider_server.requests[2].messages if m["role"] == "tool"]
    assert "do not match its input_schema" in told[0] and told[1] == "no tool named 'launch' here"


def test_an_unapproved_tool_is_refused(stack, admin, provider_server, tools):
    make_tool(stack, admin, "pending_tool", {"kind": "http", "url": stack.http.url + "/x"}, approve=False)
    execution_id = submit(stack, agent_workflow(agent={"model": "acme/m1", "tools": ["pending_tool"]}),
                          {"question": "q"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "failed"
    assert steps["assist"].error_message == \
        "tool 'pending_tool' is pending, not approved: an admin must approve it before it runs"
    assert steps["assist"].attempt == 1 and provider_server.requests == []


def test_another_owners_private_tool_is_refused(stack, admin, tools):
    make_tool(stack, admin, "their_tool", {"kind": "http", "url": stack.http.url + "/theirs"}, owner=admin)
    execution_id = submit(stack, {"name": "t", "nodes": [
        {"id": "call", "type": "tool", "config": {"tool": "their_tool", "arguments": {"id": "1"}}}]})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "failed"
    assert steps["call"].error_message == "no tool named 'their_tool' that you own or that is shared"
    assert stack.http.hits["/theirs"] == 0


def test_a_tool_node_checks_arguments_and_calls(stack, tools):
    execution_id = submit(stack, {"name": "t", "nodes": [
        {"id": "call", "type": "tool", "config": {"tool": "lookup", "arguments": {"id": "{{ input.id }}"}}}]},
        {"id": "7"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    assert steps["call"].output["result"]["path"] == "/items/7"
    assert stack.http.idempotency_keys[-1] == f"{execution_id}:call:1"
    bad = submit(stack, {"name": "t", "nodes": [{"id": "call", "type": "tool", "config": {"tool": "lookup"}}]})
    execution, steps, _ = finished(stack, bad)
    assert "arguments of tool 'lookup' do not match its input_schema: (root): 'id' is a required property" == \
        steps["call"].error_message


@pytest.fixture(scope="module")
def doubler(stack, admin):
    """A workflow tool: the workflow ``double`` (``n`` -> ``{twice: {doubled}}``); ``n`` 0 fails it."""
    with stack.engine.sessions.begin() as s:
        workflows.create_workflow(s, stack.engine.keyring, stack.owner, {"name": "double", "nodes": [
            {"id": "twice", "type": "transform", "config": {"output": {"doubled": "{{ input.n * 2 }}"}}},
            {"id": "check", "type": "transform", "config": {"output": "{{ 1 / input.n }}"}}]})
    make_tool(stack, admin, "doubler", {"kind": "workflow", "workflow_id": "double"},
              {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}})


def test_a_workflow_tool_runs_as_a_child_execution(stack, doubler):
    execution_id = submit(stack, {"name": "t", "nodes": [
        {"id": "call", "type": "tool", "config": {"tool": "doubler", "arguments": {"n": 21}}}]})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    output = steps["call"].output
    assert output["status"] == "completed" and output["output"]["twice"]["doubled"] in (42, "42")
    with stack.engine.sessions() as s:
        child = s.get(Execution, output["execution_id"])
        assert (child.parent_execution_id, child.trigger) == (execution_id, "subworkflow")


def test_an_agent_calls_a_workflow_tool_and_gets_the_childs_output(stack, provider_server, doubler):
    provider_server.script(llm.tool_call("doubler", {"n": 21}), llm.tool_call("doubler", {"n": 0}),
                           llm.text("21 doubled is 42; 0 could not be checked."))
    execution_id = submit(stack, agent_workflow(agent={"model": "acme/m1", "tools": ["doubler"]}), {"question": "q"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    output = steps["assist"].output
    assert (output["text"], output["iterations"]) == ("21 doubled is 42; 0 could not be checked.", 3)
    assert [(c["arguments"], c["status"]) for c in output["tool_calls"]] == [({"n": 21}, "ok"), ({"n": 0}, "error")]
    results = [json.loads(m["content"]) for m in provider_server.requests[2].messages if m["role"] == "tool"]
    assert results[0]["twice"]["doubled"] in (42, "42")
    assert results[1]["error"].startswith("workflow tool 'doubler': child execution ") and "failed" in results[1]["error"]
    with stack.engine.sessions() as s:
        children = s.scalars(select(Execution).where(Execution.parent_execution_id == execution_id)
                             .order_by(Execution.created_at)).all()
    assert [(c.status, c.input, c.trigger) for c in children] == [
        ("completed", {"n": 21}, "subworkflow"), ("failed", {"n": 0}, "subworkflow")]
    calls = calls_of(stack, execution_id)
    assert [(c.kind, c.target, c.status, (c.meta or {}).get("execution_id")) for c in calls if c.kind == "tool"] == [
        ("tool", "doubler", "ok", str(children[0].id)), ("tool", "doubler", "error", str(children[1].id))]


def test_context_written_by_a_node_read_by_an_agent_tool_and_a_later_template(stack, provider_server, tools):
    provider_server.script(llm.tool_call("context_read", {"namespace": "facts"}),
                           llm.tool_call("context_read", {"namespace": "secrets"}),
                           llm.tool_call("context_write", {"value": {"summary": "Oslo, 12 C"}}),
                           llm.text("noted"))
    execution_id = submit(stack, {"name": "ctx", "nodes": [
        {"id": "gather", "type": "transform", "config": {"output": {"city": "Oslo"}},
         "context_write": {"namespace": "facts", "value": {"city": "{{ output.city }}", "temp": 12}}},
        {"id": "assist", "type": "agent",
         "config": {"agent": {"model": "acme/m1"}, "prompt": "Summarise the facts",
                    "context": {"read": ["facts"], "write": "notes"}}},
        {"id": "report", "type": "transform",
         "config": {"output": "{{ context.facts.city }}: {{ context.notes.summary }}"}}],
        "edges": [{"source": "gather", "target": "assist"}, {"source": "assist", "target": "report"}]})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    results = [json.loads(m["content"]) for m in provider_server.requests[3].messages if m["role"] == "tool"]
    assert results[0] == {"city": "Oslo", "temp": 12}
    assert results[1] == {"error": "namespace 'secrets' is not one this agent may read (facts)"}
    assert steps["report"].output == "Oslo: Oslo, 12 C"
    assert [c["status"] for c in steps["assist"].output["tool_calls"]] == ["ok", "error", "ok"]


@resumable_approvals
def test_a_tool_needing_approval_waits_then_runs(stack, admin, provider_server, tools):
    make_tool(stack, admin, "publish", {"kind": "http", "method": "POST", "url": stack.http.url + "/publish",
                                        "json": {"id": "{{ arguments.id }}"}}, requires_approval=True)
    provider_server.script(llm.tool_call("publish", {"id": "9"}), llm.text("published"))
    execution_id = submit(stack, agent_workflow(agent={"model": "acme/m1", "tools": ["publish"]}), {"question": "q"})
    _, steps, _ = wait_until(stack, execution_id, lambda e, steps, _: steps["assist"].status == "waiting")
    assert stack.http.hits["/publish"] == 0
    assert pending_details(stack, execution_id) == {"agent": "assist", "tool": "publish", "arguments": {"id": "9"}}
    approvals.decide(stack.engine, True, approval_id=pending_id(stack, execution_id), owner=stack.owner)
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    assert stack.http.hits["/publish"] == 1
    assert steps["assist"].output["tool_calls"] == [{"name": "publish", "arguments": {"id": "9"}, "status": "ok"}]


@resumable_approvals
def test_a_tool_node_needing_approval_fails_when_rejected(stack, admin, tools):
    make_tool(stack, admin, "wipe", {"kind": "http", "method": "DELETE", "url": stack.http.url + "/wipe"},
              requires_approval=True)
    execution_id = submit(stack, {"name": "t", "nodes": [
        {"id": "call", "type": "tool", "config": {"tool": "wipe", "arguments": {"id": "all"}}}]})
    wait_until(stack, execution_id, lambda e, steps, _: steps["call"].status == "waiting")
    assert pending_details(stack, execution_id) == {"tool": "wipe", "arguments": {"id": "all"}}
    approvals.decide(stack.engine, False, approval_id=pending_id(stack, execution_id), owner=stack.owner)
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "failed"
    assert steps["call"].error_message == "the call of tool 'wipe' was rejected by a person"
    assert stack.http.hits["/wipe"] == 0


def pending_id(stack, execution_id):
    with stack.engine.sessions() as s:
        return s.scalar(select(HumanApproval.id).where(HumanApproval.execution_id == execution_id,
                                                       HumanApproval.status == "pending"))


def pending_details(stack, execution_id):
    with stack.engine.sessions() as s:
        return s.scalar(select(HumanApproval.details).where(HumanApproval.execution_id == execution_id,
                                                            HumanApproval.status == "pending"))


def test_a_worker_killed_mid_loop_resumes_from_its_last_turn(stack, provider_server, tools):
    workers = stack.workers
    workers.start("victim", concurrency=1)
    workers.kill("w1")
    workers.kill("w2")
    try:
        provider_server.script(llm.tool_call("lookup", {"id": "kill"}), llm.delay(3, llm.text("never seen")))
        execution_id = submit(stack, agent_workflow(), {"question": "q"})
        wait_until(stack, execution_id, lambda e, steps, _: steps["assist"].turn == 2
                   and steps["assist"].status == "running")
        until("the second model call is in flight", lambda: provider_server.in_flight)
        workers.kill("victim")
        workers.start("w1")
        execution, steps, _ = finished(stack, execution_id, timeout=40)
        assert execution.status == "completed", execution.error_message
        assert stack.http.hits["/items/kill"] == 1           # the finished tool call, once
        assert len(provider_server.requests) == 2            # the finished model call once, then the repeat
        assert [(c.turn, c.kind) for c in calls_of(stack, execution_id)] == [(0, "llm"), (1, "tool"), (2, "llm")]
        assert steps["assist"].output["iterations"] == 2
    finally:
        if "w1" not in workers.procs:
            workers.start("w1")
        workers.start("w2")


# -- teams ---------------------------------------------------------------------------------------

MEMBERS = [{"name": "researcher", "agent": {"model": "acme/m1", "instructions": "Find facts."}},
           {"name": "writer", "agent": {"model": "acme/m1", "instructions": "Write."}}]


def team_workflow(topology, **config):
    return {"name": "team", "nodes": [{"id": "crew", "type": "team",
                                       "config": {"team": topology, "task": "{{ input.task }}", **config}}]}


def hand_overs(stack, execution_id):
    with stack.engine.sessions() as s:
        return [(m.from_node, m.to_node, m.message_type) for m in s.scalars(
            select(A2AMessage).where(A2AMessage.execution_id == execution_id).order_by(A2AMessage.created_at))]


def of_kind(events, kind, key):
    return [e.data[key] for e in events if e.event_type == kind]


def test_sequential_team_passes_each_result_on(stack, provider_server):
    provider_server.script(llm.text("facts: the sea is salty"), llm.text("An essay on salt."))
    execution_id = submit(stack, team_workflow({"type": "sequential", "members": MEMBERS}), {"task": "Salt?"})
    execution, steps, events = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    output = steps["crew"].output
    assert (output["final"], output["stop_reason"], output["iterations"]) == ("An essay on salt.", "final", 2)
    assert "facts: the sea is salty" in provider_server.requests[1].messages[-1]["content"]
    assert hand_overs(stack, execution_id) == [
        ("crew:team", "crew:researcher", "task"), ("crew:researcher", "crew:team", "result"),
        ("crew:team", "crew:writer", "task"), ("crew:writer", "crew:team", "result"),
        ("crew:team", "crew:output", "final")]
    assert of_kind(events, "agent_message", "member") == ["researcher", "writer"]
    assert output["usage"]["total_tokens"] == execution.total_tokens == \
        sum(m["usage"]["total_tokens"] for m in output["members"].values())


def test_round_robin_team_stops_on_terminate_on(stack, provider_server):
    provider_server.script(llm.text("a draft"), llm.text("fine as it is TERMINATE"))
    execution_id = submit(stack, team_workflow({"type": "round_robin", "members": MEMBERS}), {"task": "Draft"})
    execution, steps, events = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    output = steps["crew"].output
    assert (output["final"], output["stop_reason"], output["iterations"]) == ("fine as it is", "terminate_on", 2)
    assert "researcher: a draft" in provider_server.requests[1].messages[-1]["content"]
    assert [m for m in hand_overs(stack, execution_id) if m[2] != "task"] == [
        ("crew:researcher", "crew:team", "result"), ("crew:writer", "crew:team", "result"),
        ("crew:team", "crew:output", "final")]


def test_round_robin_team_stops_at_max_iterations(stack, provider_server):
    execution_id = submit(stack, team_workflow({"type": "round_robin", "members": MEMBERS}, max_iterations=3),
                          {"task": "Chat"})
    execution, steps, _ = finished(stack, execution_id)
    assert (steps["crew"].output["stop_reason"], steps["crew"].output["iterations"]) == ("max_iterations", 3)


SUPERVISED = {"type": "supervisor", "supervisor": {"model": "acme/m1", "instructions": "Be brief."},
              "members": MEMBERS}


def test_supervisor_team_decides_each_round(stack, provider_server):
    provider_server.script(llm.json_reply({"next": "researcher", "instruction": "find facts"}),
                           llm.text("salt is NaCl"),
                           llm.json_reply({"next": "writer", "instruction": "write it up"}),
                           llm.text("Salt, or NaCl, is common."),
                           llm.json_reply({"next": "FINISH", "instruction": "done"}))
    execution_id = submit(stack, team_workflow(SUPERVISED), {"task": "Explain salt"})
    execution, steps, events = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    output = steps["crew"].output
    assert (output["final"], output["stop_reason"], output["iterations"]) == \
        ("Salt, or NaCl, is common.", "final", 2)
    assert of_kind(events, "supervisor_decision", "next") == ["researcher", "writer", "FINISH"]
    assert [e.event_type for e in events if e.event_type in ("supervisor_decision", "agent_message")] == [
        "supervisor_decision", "agent_message", "supervisor_decision", "agent_message", "supervisor_decision"]
    assert hand_overs(stack, execution_id) == [
        ("crew:supervisor", "crew:researcher", "task"), ("crew:researcher", "crew:supervisor", "result"),
        ("crew:supervisor", "crew:writer", "task"), ("crew:writer", "crew:supervisor", "result"),
        ("crew:supervisor", "crew:output", "final")]
    first = provider_server.requests[0].body
    assert first["response_format"]["json_schema"]["schema"]["properties"]["next"]["enum"] == \
        ["researcher", "writer", "FINISH"]
    assert provider_server.requests[1].messages[-1]["content"].startswith("find facts")
    # usage: the members' and the supervisor's calls
    assert output["usage"]["total_tokens"] == execution.total_tokens


def test_supervisor_naming_an_unknown_member_is_re_asked_once(stack, provider_server):
    provider_server.script(llm.json_reply({"next": "ghost", "instruction": "boo"}),
                           llm.json_reply({"next": "writer", "instruction": "write"}),
                           llm.text("written"),
                           llm.json_reply({"next": "FINISH", "instruction": ""}))
    execution_id = submit(stack, team_workflow(SUPERVISED), {"task": "t"})
    execution, steps, events = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    assert of_kind(events, "supervisor_decision", "valid") == [False, True, True]
    assert "\"ghost\" is not a member" in provider_server.requests[1].messages[-1]["content"]
    assert steps["crew"].output["final"] == "written"


def test_supervisor_naming_unknown_members_twice_fails(stack, provider_server):
    provider_server.script(llm.json_reply({"next": "ghost", "instruction": "boo"}),
                           llm.json_reply({"next": "phantom", "instruction": "boo"}))
    execution_id = submit(stack, team_workflow(SUPERVISED), {"task": "t"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "failed"
    assert steps["crew"].error_message == ("the supervisor of team 'crew' named 'phantom', not one of researcher, "
                                           "writer, FINISH, after a repair attempt")


def test_team_timeout_bounds_the_whole_team(stack, provider_server):
    provider_server.script(llm.delay(1.5, llm.text("slow facts")))
    execution_id = submit(stack, team_workflow({"type": "sequential", "members": MEMBERS}, timeout_seconds=1),
                          {"task": "t"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "failed"
    assert steps["crew"].error_message == "team 'crew' timed out after 1 s (1 member turn(s) done)"
    assert len(provider_server.requests) == 1


def test_a_stored_team_drawing_on_a_squad_led_by_its_leader(stack, provider_server):
    with stack.engine.sessions.begin() as s:
        owner = s.merge(stack.owner)
        lead = agents.create_agent(s, owner, "lead", model="acme/m1", start="", goal="", instructions="You lead.")
        worker = agents.create_agent(s, owner, "worker", model="acme/m1", start="", goal="")
        squad = agents.create_squad(s, owner, "crew-squad")
        agents.add_member(s, owner, squad.id, lead.id, "leader")
        agents.add_member(s, owner, squad.id, worker.id, "member")
        agents.create_team(s, owner, "squad-team", {"type": "supervisor", "squad_id": str(squad.id)})
    provider_server.script(llm.json_reply({"next": "worker", "instruction": "do it"}), llm.text("done it"),
                           llm.json_reply({"next": "FINISH", "instruction": ""}))
    execution_id = submit(stack, team_workflow("squad-team"), {"task": "t"})
    execution, steps, _ = finished(stack, execution_id)
    assert execution.status == "completed", execution.error_message
    assert steps["crew"].output["final"] == "done it"
    assert provider_server.requests[0].messages[0]["content"].startswith("You lead.")
    assert list(steps["crew"].output["members"]) == ["worker"]


# -- built-in templates --------------------------------------------------------------------------

def test_every_builtin_template_instantiates_and_runs(stack, provider_server):
    with stack.engine.sessions.begin() as s:
        templates.install_builtin(s)                      # as `orchestrator db upgrade` does
    with stack.engine.sessions() as s:
        builtin = {t.name: t.id for t in templates.list_templates(s, stack.owner).items if t.is_builtin}
    assert set(builtin) == {"Research digest", "Approval-gated publishing", "Supervisor team Q&A", "Scheduled report"}
    inputs = {"Research digest": {"url": stack.http.url + "/article"},
              "Approval-gated publishing": {"topic": "salt", "publish_url": stack.http.url + "/posts"},
              "Supervisor team Q&A": {"question": "Why is the sea salty?"},
              "Scheduled report": {"source_url": stack.http.url + "/metrics"}}
    for name, template_id in builtin.items():
        with stack.engine.sessions.begin() as s:
            workflow = templates.instantiate(s, stack.engine.keyring, s.merge(stack.owner), template_id)
        execution_id = executions.submit(stack.engine, stack.owner, workflow.id,
                                         {**inputs[name], "model": "acme/m1"})[0].id
        if name == "Approval-gated publishing":
            wait_until(stack, execution_id, lambda e, steps, _: steps.get("review") is not None
                       and steps["review"].status == "waiting")
            with stack.engine.sessions() as s:
                [pending] = approvals.list_approvals(s, stack.owner, status="pending").items
            approvals.decide(stack.engine, True, approval_id=pending.id, owner=stack.owner)
        execution, steps, _ = finished(stack, execution_id)
        assert execution.status == "completed", (name, execution.error_message)
        assert execution.output, name
        with stack.engine.sessions() as s:
            assert s.get(WorkflowTemplate, template_id).usage_count >= 1
    assert stack.http.hits["/posts"] == 1
