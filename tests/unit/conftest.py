from __future__ import annotations

import pytest

from orchestrator.config import Settings
from orchestrator.crypto import KeyRing, generate_key
from orchestrator.db import Base
from orchestrator.db.session import get_engine, session_factory
from orchestrator.engine import Engine
from orchestrator.services import api_keys
from tests.support.inline import InlineDispatcher


@pytest.fixture
def env(tmp_path):
    """An engine on a fresh SQLite database whose messages the test runs (``dispatcher.drain``)."""
    settings = Settings.from_env({"ORCHESTRATOR_DATA_DIR": str(tmp_path), "ORCHESTRATOR_ENCRYPTION_KEYS": generate_key(),
                                  "ORCHESTRATOR_LEASE_SECONDS": "5"})
    Base.metadata.create_all(get_engine(settings))
    dispatcher = InlineDispatcher()
    engine = Engine(settings, KeyRing.from_strings(settings.encryption_keys), dispatcher, session_factory(settings))
    with engine.sessions() as s, s.begin():
        owner = api_keys.get_or_create_user(s, "owner@example.com")
    yield engine, dispatcher, owner
    get_engine(settings).dispose()
