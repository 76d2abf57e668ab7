"""Authentication and the error body of every status the API answers with (DESIGN section 6)."""
from __future__ import annotations

import logging

import pytest

from api import create_app
from orchestrator.db import Base
from orchestrator.db.session import get_engine
from orchestrator.services import api_keys
from tests.conftest import make_settings
from tests.support.api import BOOTSTRAP_KEY, new_workflow, submit

UNAUTHORIZED = {"code": 401, "status": "Unauthorized", "errors": {},
                "message": "missing or invalid API key: send Authorization: Bearer <key>"}


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer ork_not_a_real_key_123456",
                                           "Basic dXNlcjpwYXNz", "Bearer ork_\u00e9t\u00e9"])
def test_no_or_a_bad_key_is_401(stack, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = stack.client(None).get("/api/v1/workflows", headers=headers)
    assert response.status_code == 401
    assert response.json == UNAUTHORIZED
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_revoked_key_is_401(stack):
    key = stack.new_key("leaver@example.com")
    client = stack.client(key)
    assert client.get("/api/v1/workflows").status_code == 200
    with stack.engine.sessions.begin() as session:
        api_keys.revoke_api_key(session, key)
    assert client.get("/api/v1/workflows").status_code == 401


def test_the_bootstrap_key_is_ensured_at_every_start(stack):
    again = create_app(stack.engine.settings, stack.engine).test_client()
    assert again.get("/api/v1/workflows", headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"}).status_code == 200


@pytest.mark.parametrize("body, content_type", [
    (b"{not json", "application/json"),
    (b'{"definition": NaN}', "application/json"),
    (b'{"definition": {"n": ' + b"9" * 5000 + b"}}", "application/json"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    (b"\xff\xfe\x00", "application/json"),
    (b"definition=x", "application/x-www-form-urlencoded"),
])
def test_a_malformed_body_is_400(client, body, content_type):
    response = client.post("/api/v1/workflows", data=body, content_type=content_type)
    assert response.status_code == 400
    assert response.json["code"] == 400 and response.json["status"] == "Bad Request"
    assert response.json["message"] in {"malformed request body: it must be JSON",
                                        "the body must be JSON, sent with Content-Type: application/json"}


def test_a_json_value_that_is_not_an_object_is_422(client):
    response = client.post("/api/v1/workflows", json=[1, 2])
    assert response.status_code == 422 and response.json["errors"] == {"_schema": ["Invalid input type."]}


def test_a_body_over_the_limit_is_413(stack, client):
    limit = stack.engine.settings.max_body_bytes
    response = client.post("/api/v1/workflows", json={"definition": "x" * limit})
    assert response.status_code == 413
    assert response.json == {"code": 413, "status": "Request Entity Too Large", "errors": {},
                             "message": f"request body too large: the limit is {limit} bytes"}


def test_a_method_the_resource_lacks_is_405_with_allow(client):
    response = client.patch("/api/v1/workflows", json={})
    assert response.status_code == 405
    assert response.json["message"] == "method not allowed on this resource"
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_an_unexpected_error_is_a_logged_500_without_a_traceback(stack, caplog, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr("orchestrator.services.workflows.list_workflows", boom)
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        response = stack.client().get("/api/v1/workflows")
    assert response.status_code == 500
    assert response.json == {"code": 500, "status": "Internal Server Error", "errors": {},
                             "message": "internal error; it has been logged"}
    assert b"secret detail" not in response.data and b"Traceback" not in response.data
    assert "secret detail" in caplog.text


def test_a_domain_error_keeps_its_details(client):
    response = client.post("/api/v1/workflows", json={"definition": {"name": "x", "nodes": [{"id": "a"}]}})
    assert response.status_code == 422
    assert response.json["errors"] == {"definition": ["node 'a' type: Missing data for required field."]}


def test_the_engine_rejects_a_state_change_with_409(stack, client):
    execution_id = stack.start(client, input={"n": 1})
    response = client.post(f"/api/v1/executions/{execution_id}/resume")
    assert response.json == {"code": 409, "status": "Conflict", "errors": {},
                             "message": "execution is completed; it cannot become running"}



def test_a_submission_during_a_broker_outage_is_accepted_and_kept(tmp_path):
    """The app's own Celery dispatcher, with nothing listening at the broker's address: the
    execution is committed, and the sweeper sends its first step once the broker is back."""
    settings = make_settings(tmp_path, BROKER_URL="redis://127.0.0.1:9/0", ORCHESTRATOR_BOOTSTRAP_API_KEY=BOOTSTRAP_KEY)
    Base.metadata.create_all(get_engine(settings))
    client = create_app(settings).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {BOOTSTRAP_KEY}"
    response = submit(client, new_workflow(client), {"n": 1})
    assert response.status_code == 202
    assert client.get(f"/api/v1/executions/{response.json['id']}").json["status"] == "pending"
    get_engine(settings).dispose()
