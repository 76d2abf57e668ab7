"""Node history: the question/answer pairs of a workflow's node under a memory key,
sealed with the keyring (associated data: the row), read back before the prompt."""
from __future__ import annotations

import json
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing, open_field, seal_field
from orchestrator.db import WorkflowNodeHistory


def recall(session: Session, keyring: KeyRing, workflow_id: uuid.UUID, node_id: str, key: str,
           max_pairs: int) -> list[dict[str, str]]:
    """The last ``max_pairs`` pairs as chat messages, oldest first."""
    rows = session.scalars(
        select(WorkflowNodeHistory).where(WorkflowNodeHistory.workflow_id == workflow_id,
                                          WorkflowNodeHistory.node_id == node_id,
                                          WorkflowNodeHistory.memory_key == key)
        .order_by(WorkflowNodeHistory.created_at.desc(), WorkflowNodeHistory.id.desc()).limit(max_pairs)
    ).all()
    messages: list[dict[str, str]] = []
    for row in reversed(rows):
        pair = json.loads(open_field(keyring, row, "pair"))
        messages += [{"role": "user", "content": pair["question"]}, {"role": "assistant", "content": pair["answer"]}]
    return messages


def remember(session: Session, keyring: KeyRing, workflow_id: uuid.UUID, execution_id: uuid.UUID, node_id: str,
             key: str, question: str, answer: str) -> None:
    row = WorkflowNodeHistory(id=uuid.uuid4(), workflow_id=workflow_id, execution_id=execution_id, node_id=node_id,
                              memory_key=key)
    seal_field(keyring, row, "pair", json.dumps({"question": question, "answer": answer}).encode())
    session.add(row)
