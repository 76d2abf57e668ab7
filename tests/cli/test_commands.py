"""Each resource command against a real API server, as a table and with --json (a list as the
API pages it: {items, next_cursor})."""
from __future__ import annotations

import io
import os
import re
import uuid


from orchestrator.cli.client import Client
from orchestrator.nodes.base import NodeType
from orchestrator.nodes.builtin import NoopNode
from orchestrator.nodes import registry
from tests.support.api import BOOTSTRAP_KEY, WORKFLOWS

CHAIN = str(WORKFLOWS / "chain.yaml")
APPROVAL = str(WORKFLOWS / "approval.yaml")


class _Broken(NodeType):
    """A custom node with a bug: its KeyError is stored with a traceback."""

    type_name = "cli_test_broken"
    config_schema = NoopNode.config_schema

    def run(self, ctx):
        return {}["missing_key"]


def test_workflows_create_list_show_publish_validate(cli, tmp_path):
    created = cli("workflows", "create", CHAIN, "--json")
    assert (created["name"], created["status"], created["latest_version"]) == ("chain", "draft", 1)
    assert "created workflow" in cli("workflows", "create", CHAIN, "--name", "chain-2")

    listed = cli("workflows", "list", "--json")
    assert listed["next_cursor"] is None and {w["name"] for w in listed["items"]} == {"chain", "chain-2"}
    table = cli("workflows", "list")
    assert "chain-2" in table and created["id"] in table and "draft" in table

    shown = cli("workflows", "show", created["id"], "--json")
    assert [v["version"] for v in shown["versions"]] == [1]
    assert [n["id"] for n in shown["definition"]["nodes"]] == ["a", "b", "c"]
    table = cli("workflows", "show", "chain-2")                  # by name too
    assert "versions" in table and "nodes" in table and "transform" in table

    assert cli("workflows", "publish", created["id"], "--json")["published_version"] == 1
    assert "version 1 published" in cli("workflows", "publish", "chain", "--version", "1")
    assert cli("workflows", "list", "--status", "published", "--json")["items"][0]["id"] == created["id"]
    assert "no workflow named 'nope'" in cli("workflows", "show", "nope", code=2)


def test_workflow_lists_page_with_limit_and_cursor(cli):
    ids = [cli("workflows", "create", CHAIN, "--name", f"w{i}", "--json")["id"] for i in range(5)]
    first = cli("workflows", "list", "--limit", "2", "--json")
    assert [w["id"] for w in first["items"]] == ids[:-3:-1] and first["next_cursor"]
    rest = cli("workflows", "list", "--limit", "10", "--cursor", first["next_cursor"], "--json")
    assert [w["id"] for w in rest["items"]] == ids[-3::-1] and rest["next_cursor"] is None
    assert f"more: --cursor {first['next_cursor']}" in cli("workflows", "list", "--limit", "2")


def test_validate_checks_the_file_here_and_names_on_the_api(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_registered", {})    # the installed types only, not other tests' own
    assert cli("workflows", "validate", CHAIN, "--json") == {
        "name": "chain", "nodes": ["a", "b", "c"], "warnings": [], "checked_against": os.environ["ORCHESTRATOR_URL"]}
    typo = tmp_path / "typo.yaml"
    typo.write_text("name: typo\nnodes:\n  - {id: a, type: noop}\n"
                    "  - {id: b, type: transform, config: {output: '{{ nodes.aa.output }}'}}\n"
                    "  - {id: c, type: subworkflow, config: {workflow: child}}\n")
    [unknown_node, no_child] = cli("workflows", "validate", str(typo), "--json")["warnings"]
    assert "nodes.aa" in unknown_node and no_child.startswith("node c: no workflow named 'child' at http://127.0.0.1")
    cli("workflows", "create", CHAIN, "--name", "child")
    out = cli("workflows", "validate", str(typo))
    assert "valid: typo, 3 node(s)" in out and out.count("warning:") == 1 and "nodes.aa" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nnodes:\n  - {id: a, type: nope}\n")
    out = cli("workflows", "validate", str(bad), code=2)
    assert out == (f"error: {bad} is not a valid workflow: node 'a': unknown node type 'nope' "
                   f"(known: {', '.join(registry.node_types())})\n")
    assert [w["name"] for w in cli("workflows", "list", "--json")["items"]] == ["child"]   # nothing else stored


def _submit(cli, path: str, input: dict | None = None) -> str:
    """Create a workflow from ``path`` with the CLI and start it; the execution's id."""
    workflow = cli("workflows", "create", path, "--name", f"w-{uuid.uuid4().hex[:6]}", "--json")
    return Client(os.environ["ORCHESTRATOR_URL"], BOOTSTRAP_KEY).submit(workflow["id"], input or {})["id"]


def test_executions_list_show_tail_and_control(cli, served, monkeypatch):
    done = _submit(cli, CHAIN, {"n": 1})
    served.run()
    waiting = _submit(cli, APPROVAL)
    served.run()

    listed = cli("executions", "list", "--json")["items"]
    assert {e["id"]: e["status"] for e in listed} == {done: "completed", waiting: "running"}
    assert [e["id"] for e in cli("executions", "list", "--status", "completed", "--json")["items"]] == [done]
    table = cli("executions", "list")
    assert done in table and "completed" in table and "running" in table
    assert "w-" in table and listed[0]["workflow_id"] not in table             # named by the workflow's name
    monkeypatch.setenv("COLUMNS", "80")
    narrow = cli("executions", "list").splitlines()
    assert all(len(line) <= 80 for line in narrow)
    assert any(done in line and "completed" in line for line in narrow)        # whole, to be copied
    monkeypatch.setenv("COLUMNS", "250")

    shown = cli("executions", "show", done, "--json")
    assert shown["status"] == "completed" and [s["node_id"] for s in shown["steps"]] == ["a", "b", "c"]
    table = cli("executions", "show", done)
    assert "steps" in table and f"execution {done}: completed" in table and "workflow w-" in table

    tail = cli("executions", "tail", done)
    assert "✓ a" in tail and "✓ c" in tail and "completed" in tail

    assert cli("executions", "pause", waiting, "--json")["status"] == "paused"
    assert f"execution {waiting}: running" in cli("executions", "resume", waiting)
    assert cli("executions", "cancel", waiting, "--json")["status"] == "cancelled"
    out = cli("executions", "cancel", waiting, code=2)
    assert out.startswith("error: POST /executions/") and "409" in out and out.count("\n") == 1


def test_executions_show_traceback_and_retry(cli, served, tmp_path, monkeypatch):
    monkeypatch.setitem(registry._registered, _Broken.type_name, _Broken)     # for this test only
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nnodes:\n  - {id: bug, type: cli_test_broken}\n")
    execution = _submit(cli, str(broken))
    served.run()
    table = cli("executions", "show", execution)
    assert "KeyError: 'missing_key'" in table and "Traceback" not in table
    with_tb = cli("executions", "show", execution, "--traceback")
    assert "traceback of bug" in with_tb and "Traceback (most recent call last)" in with_tb
    assert 'return {}["missing_key"]' in with_tb
    step = cli("executions", "show", execution, "--traceback", "--json")["steps"][0]
    assert "KeyError" in step["error_traceback"]
    assert "error_traceback" not in cli("executions", "show", execution, "--json")["steps"][0]
    assert cli("executions", "retry", execution, "--json")["status"] == "running"
    served.run()
    assert cli("executions", "show", execution, "--json")["steps"][0]["attempt"] == 2


def test_approvals_list_approve_reject(cli, served):
    first, second = _submit(cli, APPROVAL), _submit(cli, APPROVAL)
    served.run()
    pending = cli("approvals", "list", "--json")["items"]
    assert {a["execution_id"] for a in pending} == {first, second}
    table = cli("approvals", "list")
    assert "boss@example.com" in table and "pending" in table and "(in " in table    # expires in local time
    by_execution = {a["execution_id"]: a["id"] for a in pending}
    approved = cli("approvals", "approve", by_execution[first], "--data", '{"by": "cli"}', "--json")
    assert (approved["status"], approved["decision_data"]) == ("approved", {"by": "cli"})
    assert "rejected" in cli("approvals", "reject", by_execution[second])
    assert cli("approvals", "list", "--json") == {"items": [], "next_cursor": None}
    assert len(cli("approvals", "list", "--status", "all", "--json")["items"]) == 2
    assert cli("approvals", "approve", by_execution[first], "--data", "[1", code=2).startswith("error: --data is not JSON")


def test_schedules_create_list_pause_resume(cli):
    workflow = cli("workflows", "create", CHAIN, "--json")
    created = cli("schedules", "create", workflow["id"], "--cron", "*/5 * * * *", "--timezone", "Europe/Paris",
                  "--input", '{"n": 2}', "--json")
    assert (created["status"], created["input"], created["timezone"]) == ("active", {"n": 2}, "Europe/Paris")
    assert created["next_run_at"]
    table = cli("schedules", "list")
    assert created["id"] in table and "*/5 * * * *" in table and "Europe/Paris" in table and "chain" in table
    assert cli("schedules", "pause", created["id"], "--json")["status"] == "paused"
    assert re.search(r"active, next run 20\d\d-\d\d-\d\d \d\d:\d\d:00 \(in \d+ (s|min)\)$",
                     cli("schedules", "resume", created["id"]).strip())
    assert [s["id"] for s in cli("schedules", "list", "--workflow", "chain", "--json")["items"]] == [created["id"]]
    out = cli("schedules", "create", workflow["id"], "--cron", "not cron", code=2)
    assert out.startswith("error: POST /workflows/") and "422" in out and out.count("\n") == 1


def test_secrets_set_list_delete(cli, monkeypatch):
    assert cli("secrets", "set", "API_TOKEN", "--value", "s3cr3t-value", "--json")["name"] == "API_TOKEN"
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\n"))
    assert "secret OTHER saved" in cli("secrets", "set", "OTHER")
    listed = cli("secrets", "list", "--json")["items"]
    assert sorted(s["name"] for s in listed) == ["API_TOKEN", "OTHER"]
    assert all(set(s) == {"name", "created_at", "updated_at"} for s in listed)
    table = cli("secrets", "list")
    assert "API_TOKEN" in table and "s3cr3t" not in table
    assert cli("secrets", "delete", "OTHER", "--json") == {"name": "OTHER", "deleted": True}
    assert "secret API_TOKEN deleted" in cli("secrets", "delete", "API_TOKEN")
    assert "404" in cli("secrets", "delete", "API_TOKEN", code=2)
    assert "invalid" in cli("secrets", "set", "1bad", "--value", "x", code=2)
