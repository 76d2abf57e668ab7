"""The API app over an in-process engine (InlineDispatcher): tests of single resources."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from orchestrator.config import Settings
from orchestrator.db import Base
from orchestrator.db.session import get_engine
from orchestrator.composition import build_engine
from orchestrator.engine import Engine
from orchestrator.services import api_keys
from tests.support.inline import InlineDispatcher

BOOTSTRAP_KEY = "ork_tests_bootstrap_key_0123456789"
WORKFLOWS = Path(__file__).resolve().parents[1] / "fixtures" / "workflows"


def workflow_fixture(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / f"{name}.yaml").read_text())


def fan_out(width: int, **top: Any) -> dict[str, Any]:
    """start -> ``width`` noop nodes -> join."""
    middle = [f"m{i}" for i in range(width)]
    return {"name": f"fan-out-{width}", **top,
            "nodes": [{"id": node, "type": "noop"} for node in ("start", *middle, "join")],
            "edges": [*({"source": "start", "target": m} for m in middle),
                      *({"source": m, "target": "join"} for m in middle)]}


@dataclass
class ApiStack:
    app: Flask
    engine: Engine
    dispatcher: InlineDispatcher

    def client(self, key: str | None = BOOTSTRAP_KEY) -> FlaskClient:
        """A test client that sends ``key`` as its Bearer key (None: no key)."""
        client = self.app.test_client()
        if key:
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        return client

    def new_key(self, email: str) -> str:
        with self.engine.sessions.begin() as session:
            return api_keys.create_api_key(session, "test", email)[1]

    def run(self) -> int:
        """Run every queued step, as workers would."""
        return self.dispatcher.drain(self.engine)

    def close(self) -> None:
        get_engine(self.engine.settings).dispose()


    def start(self, client: FlaskClient, name: str = "chain", input: Any = None, run: bool = True) -> str:
        """Create the fixture workflow ``name``, submit it, and (``run``) run it; its execution id."""
        response = submit(client, new_workflow(client, name), input)
        assert response.status_code == 202, response.json
        if run:
            self.run()
        return response.json["id"]


def new_workflow(client: FlaskClient, name: str = "chain") -> str:
    return client.post("/api/v1/workflows", json={"definition": workflow_fixture(name)}).json["id"]


def submit(client: FlaskClient, workflow_id: str, input: Any = None, key: str | None = None, **body: Any):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(f"/api/v1/workflows/{workflow_id}/executions", json={"input": input, **body}, headers=headers)


def server_sent_events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The events of a text/event-stream as {id, event, data}, as their lines arrive (comments skipped)."""
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(": ")
            fields[name] = value
        elif fields:
            yield {"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])}
            fields = {}


def api_stack(settings: Settings) -> ApiStack:
    """A fresh schema on ``settings``' database and the app over an inline engine."""
    Base.metadata.create_all(get_engine(settings))
    dispatcher = InlineDispatcher()
    engine = build_engine(settings, dispatcher)
    return ApiStack(create_app(settings, engine), engine, dispatcher)
