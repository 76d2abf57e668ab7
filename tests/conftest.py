from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server
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


@pytest.fixture
def llm_server():
    """The offline model provider (OpenAI and Anthropic protocols) on 127.0.0.1."""
    from examples.llm_server import LLMServer

    server = LLMServer().start()
    yield server
    server.close()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """The API (inline engine: ``served.run()`` runs queued steps) on a real HTTP server on
    127.0.0.1, named by ORCHESTRATOR_URL and ORCHESTRATOR_API_KEY as a user would. Model
    providers may answer on 127.0.0.1 too (``llm_server``)."""
    from tests.support.api import BOOTSTRAP_KEY, api_stack

    stack = api_stack(make_settings(tmp_path, ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY,
                                    ORCHESTRATOR_LLM_ALLOW_PRIVATE="1"))
    server = make_server("127.0.0.1", 0, stack.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stack.url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("ORCHESTRATOR_URL", stack.url)
    monkeypatch.setenv("ORCHESTRATOR_API_KEY", BOOTSTRAP_KEY)
    monkeypatch.setenv("COLUMNS", "250")
    yield stack
    server.shutdown()
    thread.join(5)
    stack.close()


@pytest.fixture
def cli(capsys, served):
    """Run the CLI in this process against ``served``: ``cli(*args, code=0)`` answers what it
    printed (the JSON parsed with --json), after checking its exit status."""
    from orchestrator.cli.main import main

    def run(*args: str, code: int = 0):
        result = main(list(args))
        out, err = capsys.readouterr()
        assert result == code, out + err
        return json.loads(out) if "--json" in args and code == 0 else out + err
    return run
