from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import make_settings
from tests.support.api import BOOTSTRAP_KEY, api_stack


@pytest.fixture
def served(tmp_path, monkeypatch):
    """The API (inline engine: ``served.run()`` runs queued steps) on a real HTTP server on
    127.0.0.1, named by ORCHESTRATOR_URL and ORCHESTRATOR_API_KEY as a user would."""
    stack = api_stack(make_settings(tmp_path, ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY))
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
