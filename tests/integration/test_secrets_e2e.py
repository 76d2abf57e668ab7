"""A secret used by a workflow reaches the HTTP server and nothing else: no table, log, event
or API answer holds its value afterwards."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from api import create_app
from orchestrator.db import Base
from orchestrator.services import api_keys
from tests.support.stack import finished

pytestmark = pytest.mark.integration
SECRET = "tok-e2e-7f3a9c1d5b"


def test_a_secret_never_appears_outside_the_request_that_uses_it(stack):
    engine, owner, http, workers = stack
    with engine.sessions.begin() as session:
        key = api_keys.create_api_key(session, "secrets-e2e", owner.email)[1]
    api = create_app(engine.settings, engine).test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    assert api.post("/api/v1/secrets", json={"name": "API_TOKEN", "value": SECRET}).status_code == 201
    definition = {"name": "uses-a-secret", "nodes": [
        {"id": "call", "type": "http_request",
         "config": {"url": f"{http.url}/data?key=secret-e2e",
                    "headers": {"Authorization": "Bearer {{ secrets.API_TOKEN }}"}}},
        {"id": "echoed", "type": "http_request",                 # the server echoes the path back
         "config": {"url": f"{http.url}/echo/{{{{ secrets.API_TOKEN }}}}"}},
        {"id": "unresolvable", "type": "http_request",           # the error names the host
         "config": {"url": "http://{{ secrets.API_TOKEN }}.invalid/"}, "on_error": "continue"}]}
    workflow = api.post("/api/v1/workflows", json={"definition": definition}).json
    execution_id = api.post(f"/api/v1/workflows/{workflow['id']}/executions", json={"input": {}}).json["id"]
    execution, steps, _ = finished(stack, execution_id)

    assert f"Bearer {SECRET}" in http.authorizations                     # it was used
    assert steps["call"].status == "completed" and steps["echoed"].status == "completed"
    assert "cannot resolve host" in steps["unresolvable"].error_message

    answers = [api.get(f"/api/v1/executions/{execution_id}{path}").get_data(as_text=True)
               for path in ("", "/steps", "/events")]
    answers.append(api.get("/api/v1/secrets").get_data(as_text=True))
    for answer in answers:
        assert SECRET not in answer, answer
    with engine.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                for value in row:
                    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    assert SECRET not in text, f"{table.name}: {row}"
    for log in workers.log_dir.glob("*.log"):
        assert SECRET not in log.read_text(errors="replace"), log
