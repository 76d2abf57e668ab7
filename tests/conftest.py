from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.db.migrate import upgrade_database
from orchestrator.config import Settings, get_settings
from orchestrator.crypto import generate_key
from orchestrator.db.session import get_engine


@pytest.fixture(scope="session")
def servers():
    from tests.support.servers import Servers

    started = Servers()
    yield started
    started.close()


def make_settings(tmp_path, database_url: str | None = None, **env: str) -> Settings:
    values = {
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
        "ORCHESTRATOR_ENCRYPTION_KEYS": env.pop("keys", None) or generate_key(),
        **env,
    }
    if database_url:
        values["DATABASE_URL"] = database_url
    return Settings.from_env(values)


def use_settings(monkeypatch, settings: Settings) -> Settings:
    """Make ``settings`` what get_settings() answers for the rest of the test."""
    monkeypatch.setenv("ORCHESTRATOR_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BROKER_URL", settings.broker_url)
    monkeypatch.setenv("ORCHESTRATOR_ENCRYPTION_KEYS", ",".join(settings.encryption_keys))
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_settings(request, tmp_path, monkeypatch) -> Settings:
    """A fresh database of each kind, migrated to head, made the current settings."""
    if request.param == "postgresql":
        url = request.getfixturevalue("servers").create_database()
    else:
        url = f"sqlite:///{tmp_path / 'orchestrator.db'}"
    settings = use_settings(monkeypatch, make_settings(tmp_path, url))
    upgrade_database()
    yield settings
    get_engine(settings).dispose()
    get_settings.cache_clear()


@pytest.fixture
def session(migrated_settings) -> Session:
    with sessionmaker(bind=get_engine(migrated_settings), expire_on_commit=False)() as s:
        yield s
