"""Import and export documents as the API reads and writes them."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from api.resources.agents.schemas import AgentCreateSchema
from api.resources.teams.schemas import TeamCreateSchema
from api.resources.tools.schemas import ToolCreateSchema
from api.resources.workflows.schemas import WorkflowSchema
from api.schemas import INT_MAX
from orchestrator.definitions import DefinitionError, load_document
from orchestrator.definitions.dify import is_dify
from orchestrator.nodes.llm import MODEL_REF
from orchestrator.services.interchange import FORMAT, FORMAT_VERSION


class ExportedWorkflowSchema(Schema):
    id = fields.String(required=True, validate=validate.Length(1, 255), metadata={"description": "Its id where "
                                                                                                 "it was exported"})
    name = fields.String(required=True, validate=validate.Length(1, 255))
    description = fields.String(allow_none=True)
    version = fields.Integer(validate=validate.Range(1, INT_MAX))
    source = fields.String(validate=validate.Length(1, 32))
    source_id = fields.String(allow_none=True, validate=validate.Length(max=255))


class ExportSchema(Schema):
    """``format: orchestrator-workflow``: a workflow and what its nodes name."""

    format = fields.String(required=True, validate=validate.Equal(FORMAT))
    format_version = fields.Integer(required=True, validate=validate.Equal(FORMAT_VERSION))
    exported_at = fields.String(metadata={"description": "ISO 8601"})
    workflow = fields.Nested(ExportedWorkflowSchema, required=True)
    definition = fields.Dict(required=True)
    agents = fields.List(fields.Nested(AgentCreateSchema), load_default=list,
                         metadata={"description": "The agents its nodes and teams name, as POST /agents takes them"})
    tools = fields.List(fields.Nested(ToolCreateSchema), load_default=list,
                        metadata={"description": "The tools its nodes and agents name, as POST /tools takes them"})
    teams = fields.List(fields.Nested(TeamCreateSchema), load_default=list,
                        metadata={"description": "The teams its nodes name, as POST /teams takes them"})
    workflows = fields.List(fields.String(validate=validate.Length(1, 255)), load_default=list,
                            metadata={"description": "The workflows its subworkflow nodes and tools call"})


class DocumentField(fields.Field):
    """An export of ours or a Dify DSL document: an object, or its YAML or JSON text."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, (dict, str)):
            raise ValidationError("must be an object, or YAML or JSON text")
        try:
            document = load_document(value, "document")
        except DefinitionError as exc:
            raise ValidationError(exc.errors) from None
        if document.get("format") == FORMAT:
            return ExportSchema().load(document)
        if not is_dify(document):
            raise ValidationError(f"neither an export of ours (format: {FORMAT}) nor a Dify DSL document "
                                  "(app, workflow.graph)")
        return document


class ImportSchema(Schema):
    document = DocumentField(required=True, metadata={
        "oneOf": [{"type": "object"}, {"type": "string"}],
        "description": f"What GET /workflows/{{id}}/export returned (format: {FORMAT}), or a Dify app's "
                       "exported DSL (YAML), as an object or as text"})
    name = fields.String(validate=validate.Length(1, 255), metadata={"description": "Default: the document's"})
    source_id = fields.String(validate=validate.Length(1, 255), metadata={
        "description": "Default: the exported workflow's id, or dify:<app name>"})
    models = fields.Dict(keys=fields.String(validate=validate.Length(1, 255)),
                         values=fields.String(validate=[validate.Length(max=255), MODEL_REF]), load_default=dict,
                         metadata={"description": "Dify models (name or provider/name) to run as which of yours "
                                                  "(<provider name>/<model_id>); default: Dify's provider/name",
                                   "example": {"gpt-4o": "acme-openai/gpt-4o"}})


class ReferenceSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["agent", "tool", "team", "workflow"]))
    name = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "description": "existing (yours, or a shared tool), created, created (pending approval), or missing"})


class ImportResultSchema(Schema):
    workflow = fields.Nested(WorkflowSchema, required=True)
    format = fields.String(required=True, validate=validate.OneOf(["orchestrator", "dify"]))
    references = fields.List(fields.Nested(ReferenceSchema), required=True)
    warnings = fields.List(fields.String(), required=True)


class ExportQuery(Schema):
    version = fields.Integer(validate=validate.Range(1, INT_MAX), metadata={"description": "Default: the latest"})
