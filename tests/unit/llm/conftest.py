"""The LLM layer below the engine: a real database of each kind, the offline provider over HTTP,
and the ``llm`` node run turn by turn with a real NodeContext, the way the engine runs it."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker

from examples.llm_server import LLMServer
from orchestrator.config import Settings
from orchestrator.crypto import load_keyring
from orchestrator.composition import NodeServices
from orchestrator.db import Execution
from orchestrator.db.session import get_engine
from orchestrator.llm import account
from orchestrator.nodes.base import Continue, NodeContext, NodeError
from orchestrator.nodes.llm import LLMConfig, LLMNode
from orchestrator.services import providers
from tests.integration.test_schema import make_workflow


@dataclass
class Turns:
    """What a node's run left: its turns' returns, every call, every emitted event."""

    results: list[Any] = field(default_factory=list)
    calls: list[Any] = field(default_factory=list)
    events: list[tuple[str, str, dict]] = field(default_factory=list)
    error: NodeError | None = None

    @property
    def output(self) -> Any:
        return self.results[-1]


@dataclass
class World:
    settings: Settings
    sessions: sessionmaker
    owner: Any
    workflow_id: uuid.UUID
    version_id: uuid.UUID
    server: LLMServer

    @property
    def keyring(self):
        return load_keyring(self.settings)

    @property
    def services(self):
        return NodeServices(self.sessions, self.keyring, self.settings)

    def provider(self, name: str = "acme", type: str = "openai", *, keys: tuple[str, ...] = ("sk-acme-key-one-0001",),
                 models: dict[str, tuple[float | None, float | None]] | None = None, retry_count: int = 2,
                 timeout_read: float = 5.0, base_url: str | None = None, **credential: Any) -> uuid.UUID:
        """A provider on the offline server (or at ``base_url``) with an endpoint, models {model_id:
        (input, output price)} and one credential per key (aliases k1, k2, ...)."""
        base_url = base_url or (f"{self.server.url}/v1" if type != "anthropic" else self.server.url)
        with self.sessions.begin() as s:
            owner = s.merge(self.owner)
            provider = providers.create_provider(s, owner, name, type)
            providers.create_endpoint(s, self.settings, owner, provider.id, "main", base_url,
                                      retry_count=retry_count, timeout_read=timeout_read, timeout_connect=2.0)
            for model_id, (input_price, output_price) in (models or {"m1": (0.5, 1.5)}).items():
                providers.create_model(s, owner, provider.id, model_id, input_price=input_price,
                                       output_price=output_price)
            for i, key in enumerate(keys):
                providers.create_credential(s, self.keyring, owner, provider.id, key, alias=f"k{i + 1}", **credential)
            return provider.id

    def execution(self) -> uuid.UUID:
        with self.sessions.begin() as s:
            execution = Execution(workflow_id=self.workflow_id, workflow_version_id=self.version_id, version=1,
                                  owner_id=self.owner.id, status="running")
            s.add(execution)
            s.flush()
            return execution.id

    def run(self, config: dict[str, Any], *, execution_id: uuid.UUID | None = None, node_id: str = "ask",
            max_turns: int = 5, follow_parks: bool = False) -> Turns:
        """Run the node turn by turn as the engine does, accounting each turn in its own commit;
        stops at a park (``Continue`` with ``not_before``) unless ``follow_parks``."""
        execution_id = execution_id or self.execution()
        loaded = LLMConfig().load(config)
        turns, checkpoint = Turns(), None
        for turn in range(max_turns):
            ctx = NodeContext(str(execution_id), node_id, 1, loaded, {}, turn=turn, checkpoint=checkpoint,
                              owner_id=str(self.owner.id), workflow_id=str(self.workflow_id),
                              services=self.services, emit=lambda *a: turns.events.append(a))
            try:
                result = LLMNode().run(ctx)
            except NodeError as exc:
                turns.error = exc
                result = None
            turns.results.append(result)
            turns.calls += ctx.calls
            with self.sessions.begin() as s:
                account(s, self.keyring, ctx, None if isinstance(result, Continue) else result)
            if not isinstance(result, Continue) or (result.not_before and not follow_parks):
                return turns
            checkpoint = result.state
        raise AssertionError(f"still running after {max_turns} turns")


@pytest.fixture
def world(migrated_settings, llm_server) -> World:
    settings = replace(migrated_settings, llm_allow_private=True, llm_retry_backoff_seconds=0.01)
    sessions = sessionmaker(bind=get_engine(migrated_settings), expire_on_commit=False)
    with sessions.begin() as s:
        owner, workflow, version = make_workflow(s, migrated_settings)
    return World(settings, sessions, owner, workflow.id, version.id, llm_server)
