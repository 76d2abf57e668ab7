"""Sealed workflow definitions: write a version, read one back (cached per engine; versions
are immutable, so a version is decrypted and parsed once)."""
from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections import OrderedDict

from sqlalchemy import Connection, select

from orchestrator.crypto import KeyRing, open_field, seal_field
from orchestrator.db import Edge, Node, WorkflowVersion
from orchestrator.definitions import WorkflowDefinition, parse_definition
from orchestrator.engine.graph import Plan

VERSIONS = WorkflowVersion.__table__


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
        version.nodes.append(Node(node_id=spec.id, type=spec.type,     # the name is sealed with the rest
                                  position_x=position.get("x"), position_y=position.get("y")))
    for edge in definition.edges:                                        # so is the condition
        version.edges.append(Edge(source_node_id=edge.source, target_node_id=edge.target, on_outcome=edge.on))
    return version


def read_definition(conn: Connection, keyring: KeyRing, version_id: uuid.UUID) -> WorkflowDefinition:
    """A version's definition, decrypted and parsed (no cache: see ``DefinitionCache``)."""
    row = conn.execute(select(VERSIONS.c.id, VERSIONS.c.definition_encrypted, VERSIONS.c.definition_iv,
                              VERSIONS.c.key_id).where(VERSIONS.c.id == version_id)).one()
    return parse_definition(json.loads(open_field(keyring, row, "definition", VERSIONS.name)))


class DefinitionCache:
    """Parsed definitions and their plans by version id, least recently used out first."""

    def __init__(self, keyring: KeyRing, limit: int = 512):
        self.keyring = keyring
        self.limit = limit
        self._entries: OrderedDict[uuid.UUID, tuple[WorkflowDefinition, Plan]] = OrderedDict()
        self._plans: dict[int, Plan] = {}
        self._lock = threading.Lock()

    def get(self, conn: Connection, version_id: uuid.UUID) -> WorkflowDefinition:
        with self._lock:
            entry = self._entries.get(version_id)
            if entry is not None:
                self._entries.move_to_end(version_id)
                return entry[0]
        definition = read_definition(conn, self.keyring, version_id)
        plan = Plan(definition)
        with self._lock:
            self._entries[version_id] = (definition, plan)
            self._plans[id(definition)] = plan
            while len(self._entries) > self.limit:
                evicted, _ = self._entries.popitem(last=False)[1]
                self._plans.pop(id(evicted), None)
        return definition

    def cached(self, version_id: uuid.UUID) -> WorkflowDefinition | None:
        with self._lock:
            entry = self._entries.get(version_id)
        return None if entry is None else entry[0]

    def plan(self, definition: WorkflowDefinition) -> Plan:
        """The plan of a definition this cache returned (or of any other, computed now)."""
        return self._plans.get(id(definition)) or Plan(definition)
