"""Export a workflow to a document, and import one: ours, or a Dify app's workflow DSL.

Our format (``format: orchestrator-workflow``, ``format_version: 1``) holds the workflow (id,
name, description, version, source), its ``definition``, and what its nodes refer to by name:
the ``agents``, ``tools`` and ``teams`` (each as ``POST /agents``, ``/tools``, ``/teams``
take it) and the names of the ``workflows`` its subworkflow nodes and workflow tools call.
Importing it creates what the importer lacks of those (found by name: the importer's own,
or a shared tool) and the workflow; a Dify document is translated first
(``orchestrator.definitions.dify``). Either way the workflow is ``source: imported`` with a
``source_id`` saying where it came from.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.agents.catalog import agent_by_name, usable_tool
from orchestrator.agents.topology import named_agents
from orchestrator.crypto import KeyRing
from orchestrator.db import Agent, Team, Tool, User, Workflow
from orchestrator.db.types import utcnow
from orchestrator.definitions.dify import UnmappedNodes, translate
from orchestrator.definitions.dify_refs import Untranslatable
from orchestrator.services import agents
from orchestrator.services.errors import Invalid
from orchestrator.services.workflows import create_workflow, definition_of, get_workflow, version_of
from orchestrator.states import ToolStatus, WorkflowSource, WorkflowStatus

FORMAT = "orchestrator-workflow"
FORMAT_VERSION = 1
AGENT_FIELDS = ("name", "start", "goal", "model", "instructions", "tools", "output_schema", "max_iterations")
TOOL_FIELDS = ("name", "category", "description", "input_schema", "config", "visibility", "requires_approval")
TEAM_FIELDS = ("name", "description", "topology_config", "timeout_seconds", "max_iterations")


def _named(value: Any) -> str | None:
    """A name written as such (not a template, which only a run can resolve)."""
    return value if isinstance(value, str) and value and "{{" not in value else None


def node_references(definition: dict[str, Any]) -> dict[str, set[str]]:
    """The names the nodes give: {agents, tools, teams, workflows}."""
    found: dict[str, set[str]] = {"agents": set(), "tools": set(), "teams": set(), "workflows": set()}
    for node in definition.get("nodes", []):
        config, kind = node.get("config") or {}, node.get("type")
        inline = config.get("agent") if kind == "agent" else config.get("team") if kind == "team" else None
        for part, value in (("agents", config.get("agent") if kind == "agent" else None),
                            ("tools", config.get("tool") if kind == "tool" else None),
                            ("teams", config.get("team") if kind == "team" else None),
                            ("workflows", config.get("workflow") if kind == "subworkflow" else None)):
            if name := _named(value):
                found[part].add(name)
        if isinstance(inline, dict):       # an inline agent's tools, an inline team's members
            found["tools"].update(filter(_named, inline.get("tools") or []))
            found["agents"].update(filter(_named, named_agents(inline).values()))
    return found


def _resolve(session: Session, owner: User, found: dict[str, set[str]]) -> tuple[list[Team], list[Agent], list[Tool]]:
    """The rows the names refer to, following teams to their agents and agents to their tools."""
    teams = [t for name in sorted(found["teams"]) if (t := session.scalar(
        select(Team).where(Team.owner_id == owner.id, Team.name == name))) is not None]
    for team in teams:
        found["agents"].update(named_agents(team.topology_config).values())
    named = [a for name in sorted(found["agents"]) if (a := agent_by_name(session, owner.id, name)) is not None]
    for agent in named:
        found["tools"].update(agent.tools)
    tools = [tool for name in sorted(found["tools"]) if (tool := usable_tool(session, owner.id, name)) is not None]
    found["workflows"].update(str(t.config["workflow_id"]) for t in tools if t.config.get("workflow_id"))
    return teams, named, tools


def export_workflow(session: Session, keyring: KeyRing, owner: User, workflow_id: Any,
                    version: int | None = None) -> dict[str, Any]:
    """The document of a version (default: the latest) with what it refers to by name."""
    workflow = get_workflow(session, owner, workflow_id)
    row = version_of(session, workflow, version or workflow.latest_version)
    definition = definition_of(keyring, row)
    found = node_references(definition)
    teams, named, tools = _resolve(session, owner, found)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "exported_at": utcnow().isoformat(),
        "workflow": {"id": str(workflow.id), "name": workflow.name, "description": workflow.description,
                     "version": row.version, "source": workflow.source, "source_id": workflow.source_id},
        "definition": definition,
        "agents": [{f: getattr(a, f) for f in AGENT_FIELDS} for a in named],
        "tools": [{f: getattr(t, f) for f in TOOL_FIELDS} for t in tools],
        "teams": [{f: getattr(t, f) for f in TEAM_FIELDS} for t in teams],
        "workflows": sorted(found["workflows"]),
    }


def _create_missing(session: Session, owner: User, document: dict[str, Any]) -> list[dict[str, str]]:
    """Tools, then agents, then teams the importer lacks (each checked as its API checks it)."""
    done = []
    for part, exists, create in (
            ("tools", lambda n: usable_tool(session, owner.id, n), agents.create_tool),
            ("agents", lambda n: agent_by_name(session, owner.id, n), agents.create_agent),
            ("teams", lambda n: session.scalar(select(Team.id).where(Team.owner_id == owner.id, Team.name == n)),
             agents.create_team)):
        for item in document.get(part, []):
            if exists(item["name"]) is not None:
                done.append({"kind": part[:-1], "name": item["name"], "status": "existing"})
                continue
            row = create(session, owner, **item)
            status = "created (pending approval)" if getattr(row, "status", None) == ToolStatus.PENDING else "created"
            done.append({"kind": part[:-1], "name": item["name"], "status": status})
    for name in document.get("workflows", []):
        found = session.scalar(select(Workflow.id).where(Workflow.owner_id == owner.id, Workflow.name == name,
                                                         Workflow.status != WorkflowStatus.ARCHIVED.value))
        done.append({"kind": "workflow", "name": name, "status": "existing" if found else "missing"})
    return done


def import_document(session: Session, keyring: KeyRing, owner: User, document: dict[str, Any], *,
                    name: str | None = None, models: dict[str, str] | None = None,
                    source_id: str | None = None) -> dict[str, Any]:
    """``{workflow, format, references, warnings}``. ``document`` is ours (already checked by
    the API's schemas) or Dify's; a Dify node without an equivalent is a 422 naming every one."""
    if document.get("format") == FORMAT:
        references = _create_missing(session, owner, document)
        definition, warnings, kind = document["definition"], [], "orchestrator"
        source_id = source_id or document["workflow"]["id"]
        warnings += [f"workflow {r['name']!r} that it calls does not exist here" for r in references
                     if r["status"] == "missing"]
    else:
        try:
            definition, warnings = translate(document, models)
        except UnmappedNodes as exc:
            raise Invalid(str(exc), {"nodes": exc.errors}) from None
        except Untranslatable as exc:
            raise Invalid(f"cannot import this Dify document: {exc}", {"document": [str(exc)]}) from None
        references, kind = [], "dify"
        source_id = source_id or f"dify:{document['app'].get('name') or 'app'}"[:255]
    workflow = create_workflow(session, keyring, owner, definition, name=name, origin=WorkflowSource.IMPORTED,
                               source_id=source_id)
    return {"workflow": workflow, "format": kind, "references": references, "warnings": warnings}
