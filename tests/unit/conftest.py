from __future__ import annotations

import pytest

from orchestrator.config import Settings
from orchestrator.crypto import KeyRing, generate_key
from orchestrator.db import Base
from orchestrator.db.session import get_engine, session_factory
from orchestrator.composition import build_engine
from orchestrator.services import api_keys
from tests.support.inline import InlineDispatcher


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request, tmp_path):
    """An engine on a fresh database of each kind whose messages the test runs
    (``dispatcher.drain``). The SQLite variants need no server."""
    values = {"ORCHESTRATOR_DATA_DIR": str(tmp_path), "ORCHESTRATOR_ENCRYPTION_KEYS": generate_key(),
              "ORCHESTRATOR_LEASE_SECONDS": "5"}
    if request.param == "postgresql":
        values["DATABASE_URL"] = request.getfixturevalue("servers").create_database()
    settings = Settings.from_env(values)
    Base.metadata.create_all(get_engine(settings))
    dispatcher = InlineDispatcher()
    engine = build_engine(settings, dispatcher, session_factory(settings), KeyRing.from_strings(settings.encryption_keys))
    with engine.sessions() as s, s.begin():
        owner = api_keys.get_or_create_user(s, "owner@example.com")
    yield engine, dispatcher, owner
    get_engine(settings).dispose()
