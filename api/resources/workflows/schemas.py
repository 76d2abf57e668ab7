"""Workflows and versions as the API reads and writes them."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from api.schemas import INT_MAX, PageQuery, page_of
from orchestrator.states import WorkflowSource, WorkflowStatus


class DefinitionField(fields.Field):
    """A definition as an object, or as YAML or JSON text."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, (dict, str)):
            raise ValidationError("must be an object, or YAML or JSON text")
        return value


DEFINITION_DOC = {"oneOf": [{"type": "object"}, {"type": "string"}],
                  "description": "The workflow definition: an object, or YAML or JSON text"}


class WorkflowBodySchema(Schema):
    name = fields.String(validate=validate.Length(1, 255),
                         metadata={"description": "Defaults to the definition's name"})
    description = fields.String(validate=validate.Length(max=10_000))
    source = DefinitionField(required=True, data_key="definition", metadata=DEFINITION_DOC)


class WorkflowCreateSchema(WorkflowBodySchema):
    squad_id = fields.UUID(allow_none=True, metadata={
        "description": "One of your squads: its price_per_execution is added to each execution's cost"})
    origin = fields.String(data_key="source", validate=validate.OneOf(WorkflowSource.values()), metadata={
        "description": "Where the workflow was made (default native); POST /workflows/import sets imported"})
    source_id = fields.String(validate=validate.Length(1, 255),
                              metadata={"description": "Its id where it was made"})


class ValidateSchema(Schema):
    source = DefinitionField(required=True, data_key="definition", metadata=DEFINITION_DOC)


class ValidationSchema(Schema):
    name = fields.String(required=True)
    nodes = fields.List(fields.String(), required=True, metadata={"description": "Node ids in definition order"})
    warnings = fields.List(fields.String(), required=True, metadata={
        "description": "Valid but suspicious, e.g. a template naming a node that does not exist"})


class WorkflowUpdateSchema(WorkflowBodySchema):
    label = fields.String(validate=validate.Length(1, 255), metadata={"description": "A label for the new version"})


class PublishSchema(Schema):
    number = fields.Integer(data_key="version", validate=validate.Range(1, INT_MAX),
                            metadata={"description": "Default: the latest version"})


class WorkflowQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(WorkflowStatus.values()))
    name = fields.String(validate=validate.Length(1, 255), metadata={"description": "Only workflows of this exact name"})


class WorkflowSchema(Schema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(WorkflowStatus.values()))
    latest_version = fields.Integer(required=True)
    squad_id = fields.UUID(required=True, allow_none=True)
    published_version = fields.Integer(required=True, allow_none=True,
                                       metadata={"description": "What executions run by default"})
    published_at = fields.DateTime(required=True, allow_none=True,
                                   metadata={"description": "When the published version was released"})
    published_by = fields.UUID(required=True, allow_none=True, metadata={"description": "The user who released it"})
    source = fields.String(required=True, validate=validate.OneOf(WorkflowSource.values()))
    source_id = fields.String(required=True, allow_none=True)
    group_id = fields.UUID(required=True, allow_none=True,
                           metadata={"description": "Its workflow group, whose licensed apps may run it"})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class WorkflowDetailSchema(WorkflowSchema):
    definition = fields.Dict(required=True, metadata={"description": "The latest version's definition"})


class VersionSchema(Schema):
    workflow_id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    label = fields.String(required=True, allow_none=True)
    checksum = fields.String(required=True, metadata={"description": "SHA-256 of the canonical definition"})
    created_at = fields.DateTime(required=True)


class VersionDetailSchema(VersionSchema):
    definition = fields.Dict(required=True)


WorkflowPageSchema = page_of(WorkflowSchema, "WorkflowPage")
VersionPageSchema = page_of(VersionSchema, "VersionPage")
