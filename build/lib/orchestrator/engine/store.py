"""Sealed workflow definitions: write a version, read one back (cached; versions are immutable)."""
from __future__ import annotations

import hashlib
import json
import uuid

from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing, open_field, seal_field
from orchestrator.db import Edge, Node, WorkflowVersion
from orchestrator.definitions import WorkflowDefinition, parse_definition


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def build_version(keyring: KeyRing, workflow_id: uuid.UUID, number: int, definition: WorkflowDefinition,
                  label: str | None = None) -> WorkflowVersion:
    """A new version row with its sealed definition and its structure (nodes, edges)."""
    plaintext = canonical_json(definition.to_dict())
    version = WorkflowVersion(
        id=uuid.uuid4(), workflow_id=workflow_id, version=number, label=label,
        checksum=hashlib.sha256(plaintext).hexdigest(),
    )
    seal_field(keyring, version, "definition", plaintext)
    for spec in definition.nodes.values():
        position = spec.position or {}
        version.nodes.append(Node(node_id=spec.id, type=spec.type, name=spec.name,
                                  position_x=position.get("x"), position_y=position.get("y")))
    for edge in definition.edges:
        version.edges.append(Edge(source_node_id=edge.source, target_node_id=edge.target,
                                  condition=edge.condition, on_outcome=edge.on))
    return version


_definitions: dict[uuid.UUID, WorkflowDefinition] = {}
_CACHE_LIMIT = 512


def load_definition(session: Session, keyring: KeyRing, version_id: uuid.UUID) -> WorkflowDefinition:
    """The parsed definition of a version; versions are immutable, so it is cached by id."""
    definition = _definitions.get(version_id)
    if definition is None:
        version = session.get(WorkflowVersion, version_id)
        definition = parse_definition(json.loads(open_field(keyring, version, "definition")))
        if len(_definitions) >= _CACHE_LIMIT:
            _definitions.pop(next(iter(_definitions)))
        _definitions[version_id] = definition
    return definition
