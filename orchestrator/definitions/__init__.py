"""Workflow definitions: parse JSON or YAML into a validated DAG."""
from orchestrator.definitions.model import EdgeSpec, NodeSpec, RetryPolicy, WorkflowDefinition
from orchestrator.definitions.validation import (
    DefinitionError,
    InputValidationError,
    load_document,
    parse_definition,
    validate_input,
)

__all__ = [
    "DefinitionError",
    "EdgeSpec",
    "InputValidationError",
    "NodeSpec",
    "RetryPolicy",
    "WorkflowDefinition",
    "load_document",
    "parse_definition",
    "validate_input",
]
