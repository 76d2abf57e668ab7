"""Hostile definitions and inputs, one per defect an outside attack found: each answers a 4xx
that names the problem, quickly, and never reaches beyond the API process."""
from __future__ import annotations

import time

import pytest

from tests.support.api import submit
from tests.support.httpserver import LocalHTTPServer


def _definition(**top):
    return {"name": "hostile", "nodes": [{"id": "a", "type": "noop"}], **top}


def _create(client, **top):
    return client.post("/api/v1/workflows", json={"definition": _definition(**top)})


@pytest.fixture
def http_server():
    server = LocalHTTPServer()
    yield server
    server.close()


@pytest.mark.parametrize("where", ["/internal/schema.json", "file:///etc/passwd", "file:///etc/",
                                   "http://169.254.169.254/latest/meta-data"])
def test_a_remote_ref_in_the_input_schema_is_refused_and_never_fetched(client, http_server, where):
    ref = http_server.url + where if where.startswith("/") else where
    response = _create(client, input_schema={"$ref": ref})
    assert response.status_code == 422
    assert response.json["errors"]["definition"] == [
        f"input_schema.$ref: only references inside the schema ('#...') are allowed, not {ref!r}"]
    assert http_server.hits == {}


def test_a_ref_that_points_nowhere_in_the_schema_is_refused(client):
    response = _create(client, input_schema={"properties": {"a": {"$ref": "#/$defs/missing"}}})
    assert response.status_code == 422
    assert response.json["errors"]["definition"] == [
        "input_schema.properties.a.$ref: '#/$defs/missing' does not point into the schema"]


def test_a_recursive_ref_with_deeply_nested_input_is_422(client):
    created = _create(client, input_schema={"type": "object", "properties": {"a": {"$ref": "#"}}}).json
    assert submit(client, created["id"], {"a": {"a": {}}}).status_code == 202
    for depth in (400, 3000):
        response = client.post(f"/api/v1/workflows/{created['id']}/executions", content_type="application/json",
                               data='{"input": ' + '{"a": ' * depth + "{}" + "}" * (depth + 1))
        assert response.status_code in (400, 422), response.json


def test_a_backtracking_pattern_runs_in_linear_time(client):
    created = _create(client, input_schema={"type": "string", "pattern": "^(a+)+$"}).json
    started = time.monotonic()
    response = submit(client, created["id"], "a" * 100_000 + "!")
    assert response.status_code == 422
    assert time.monotonic() - started < 1.0
    assert submit(client, created["id"], "a" * 30).status_code == 202


def test_a_pattern_that_needs_backtracking_is_refused_when_saved(client):
    response = _create(client, input_schema={"type": "string", "pattern": "^(a)\\1$"})
    assert response.status_code == 422
    assert "not supported" in response.json["errors"]["definition"][0]
