"""Artifacts (seed 003 task_artifact_ref): the files and references a step produced.

The contract: a node's output (an object) may hold ``artifacts``, a list of
``{name, media_type?, content | content_base64 | uri}``:

- ``content`` (text, stored as UTF-8) or ``content_base64`` (bytes) is stored in the
  database, at most ``MAX_ARTIFACT_BYTES`` each, where backups and every host find it; the
  step's stored output keeps ``{artifact_id, name, media_type, size_bytes, sha256}`` in its
  place, so the content is not kept twice;
- ``uri`` is a reference (object storage, a repository, a URL) kept as given and never
  fetched: a larger file lives where it belongs and the artifact points at it.

``store_artifacts`` is a ``turn_recorded`` hook (registered in ``orchestrator.composition``):
it runs in the transaction that completes the step, before the output is written. An entry
that breaks the contract is not stored, stays in the output as it was, and an
``artifact_refused`` event says why; the step completes all the same.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import re
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from orchestrator.db import ExecutionArtifact, User
from orchestrator.services.errors import NotFound
from orchestrator.services.executions import get_execution
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, paginate
from orchestrator.states import ArtifactRef

if TYPE_CHECKING:
    from orchestrator.engine import Transaction
    from orchestrator.engine.sql import Row
    from orchestrator.nodes.base import NodeContext

MAX_ARTIFACT_BYTES = 1024 * 1024
MAX_ARTIFACTS_PER_STEP = 100
# A name is what a download is saved as: no path, no control character, no quote.
_NAME = re.compile(r'[^/\\\x00-\x1f\x7f"]{1,255}\Z')
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*(\s*;\s*[\w.-]+=[\w.-]+)*\Z")
_URI = re.compile(r"[a-z][a-z0-9+.-]*://\S+\Z", re.I)
_LOCAL_SCHEMES = ("file", "data", "javascript")


class Refused(Exception):
    """An artifact entry that breaks the contract; the message says how."""


def _content(entry: dict[str, Any]) -> bytes | None:
    if "content" in entry:
        if not isinstance(entry["content"], str):
            raise Refused("content must be text (use content_base64 for bytes)")
        return entry["content"].encode()
    if "content_base64" in entry:
        try:
            return base64.b64decode(entry["content_base64"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise Refused("content_base64 is not base64") from None
    return None


def _uri(entry: dict[str, Any]) -> str:
    uri = entry.get("uri")
    if not isinstance(uri, str) or len(uri) > 2000 or not _URI.match(uri):
        raise Refused("give content, content_base64 or uri (an absolute URI such as s3://bucket/key)")
    if uri.split(":", 1)[0].lower() in _LOCAL_SCHEMES:
        raise Refused(f"a uri may not be a {uri.split(':', 1)[0].lower()}: URI")
    return uri


def parse_entry(entry: Any) -> dict[str, Any]:
    """The row values of one ``artifacts`` entry (without ids); Refused naming what is wrong."""
    if not isinstance(entry, dict):
        raise Refused("an artifact must be an object {name, media_type?, content | content_base64 | uri}")
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise Refused("name must be 1-255 characters without / \\ \" or control characters")
    media_type = entry.get("media_type")
    if media_type is not None and (not isinstance(media_type, str) or len(media_type) > 255
                                   or not _MEDIA_TYPE.match(media_type)):
        raise Refused("media_type must be a media type such as text/markdown or application/pdf")
    content = _content(entry)
    if content is not None:
        if len(content) > MAX_ARTIFACT_BYTES:
            raise Refused(f"{len(content)} bytes of content: at most {MAX_ARTIFACT_BYTES} are stored; "
                          "put a larger file in object storage and give its uri")
        default_type = "text/plain" if "content" in entry else "application/octet-stream"
        return {"name": name, "ref_type": ArtifactRef.CONTENT.value, "content": content, "uri": None,
                "size_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest(),
                "media_type": media_type or mimetypes.guess_type(name)[0] or default_type}
    return {"name": name, "ref_type": ArtifactRef.URI.value, "content": None, "uri": _uri(entry),
            "size_bytes": None, "sha256": None,
            "media_type": media_type or mimetypes.guess_type(name)[0] or "application/octet-stream"}


def _shown(artifact_id: uuid.UUID, row: dict[str, Any]) -> dict[str, Any]:
    """What the step's output keeps of a stored artifact."""
    shown = {"artifact_id": str(artifact_id), "name": row["name"], "media_type": row["media_type"]}
    if row["uri"] is not None:
        return {**shown, "uri": row["uri"]}
    return {**shown, "size_bytes": row["size_bytes"], "sha256": row["sha256"]}


def store_artifacts(txn: "Transaction", step: "Row", ctx: "NodeContext", output: Any) -> None:
    """The ``turn_recorded`` hook: store the ``artifacts`` of a completed step's output."""
    if not isinstance(output, dict) or "artifacts" not in output:
        return
    entries = output["artifacts"]
    if not isinstance(entries, list) or len(entries) > MAX_ARTIFACTS_PER_STEP:
        txn.event("artifact_refused", f"artifacts must be a list of at most {MAX_ARTIFACTS_PER_STEP} objects",
                  node_id=step.node_id, attempt=step.attempt)
        return
    rows = []
    for position, entry in enumerate(entries):
        try:
            row = parse_entry(entry)
        except Refused as exc:
            txn.event("artifact_refused", f"artifact {position}: {exc}", node_id=step.node_id, attempt=step.attempt)
            continue
        row.update(id=uuid.uuid4(), execution_id=txn.execution.id, step_id=step.id, node_id=step.node_id,
                   attempt=step.attempt, position=position, created_at=txn.now)
        rows.append(row)
        entries[position] = _shown(row["id"], row)
    if rows:
        txn.conn.execute(insert(ExecutionArtifact), rows)


def list_artifacts(session: Session, owner: User, execution_id: uuid.UUID, *, cursor: str | None = None,
                   limit: int = DEFAULT_LIMIT) -> Page[Any]:
    """The execution's artifacts, newest first, without their content."""
    get_execution(session, owner, execution_id)
    columns = [getattr(ExecutionArtifact, c) for c in ("id", "execution_id", "node_id", "attempt", "position", "name",
                                                        "media_type", "ref_type", "uri", "size_bytes", "sha256",
                                                        "created_at")]
    return paginate(session, select(*columns).where(ExecutionArtifact.execution_id == execution_id),
                    ExecutionArtifact, cursor, limit)


def get_artifact(session: Session, owner: User, execution_id: uuid.UUID, artifact_id: uuid.UUID) -> ExecutionArtifact:
    get_execution(session, owner, execution_id)
    artifact = session.get(ExecutionArtifact, artifact_id)
    if artifact is None or artifact.execution_id != execution_id:
        raise NotFound(f"artifact {artifact_id} not found")
    return artifact
