"""Workflow definitions: parse JSON or YAML into a validated DAG (DESIGN section 2)."""
from orchestrator.definitions.model import EdgeSpec, NodeSpec, RetryPolicy, WorkflowDefinition
from orchestrator.definitions.validation import (
    DefinitionError,
    InputValidationError,
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
    "parse_definition",
    "validate_input",
]
