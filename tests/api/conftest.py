from __future__ import annotations

import pytest

from tests.conftest import make_settings
from tests.support.api import BOOTSTRAP_KEY, ApiStack, api_stack, workflow_fixture


@pytest.fixture
def stack(tmp_path) -> ApiStack:
    """The API on a fresh SQLite database, steps run in-process by ``stack.run()``."""
    started = api_stack(make_settings(tmp_path, ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY))
    yield started
    started.close()


@pytest.fixture
def client(stack):
    """Calls as the admin that owns ORCHESTRATOR_BOOTSTRAP_API_KEY."""
    return stack.client()


@pytest.fixture
def other(stack):
    """Calls as another owner."""
    return stack.client(stack.new_key("other@example.com"))


@pytest.fixture
def anonymous(stack):
    return stack.client(None)


@pytest.fixture
def workflow(client):
    """A created and published chain workflow (a -> b -> c)."""
    created = client.post("/api/v1/workflows", json={"definition": workflow_fixture("chain")}).json
    client.post(f"/api/v1/workflows/{created['id']}/publish")
    return created
