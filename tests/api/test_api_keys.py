"""/api/v1/api-keys: the caller's own keys (an admin's: anyone's); listed without a hash, shown once,
revocable; ownership."""
from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from tests.support.api import BOOTSTRAP_KEY

KEY_FIELDS = {"id", "name", "prefix", "user_email", "created_at", "last_used_at", "revoked_at"}


def test_list_has_the_callers_keys_without_a_hash(client, other):
    page = client.get("/api/v1/api-keys").json
    assert set(page) == {"items", "next_cursor"} and page["next_cursor"] is None
    [bootstrap] = page["items"]
    assert set(bootstrap) == KEY_FIELDS
    assert (bootstrap["name"], bootstrap["prefix"], bootstrap["revoked_at"]) == ("bootstrap", BOOTSTRAP_KEY[:12], None)
    assert [key["name"] for key in other.get("/api/v1/api-keys").json["items"]] == ["test"]


def test_create_shows_the_key_once_and_it_works(stack, client):
    response = client.post("/api/v1/api-keys", json={"name": "laptop"})
    assert response.status_code == 201
    created = response.json
    assert set(created) == KEY_FIELDS | {"key"}
    assert created["key"].startswith(created["prefix"]) and created["revoked_at"] is None
    assert datetime.fromisoformat(created["created_at"]).tzinfo is not None
    listed = client.get("/api/v1/api-keys").json["items"]
    assert listed[0] == {k: v for k, v in created.items() if k != "key"}
    assert all(set(key) == KEY_FIELDS for key in listed)
    # The new key acts as the same owner, and its use is recorded.
    as_new = stack.client(created["key"])
    seen = as_new.get("/api/v1/api-keys").json["items"]
    assert [key["id"] for key in seen] == [key["id"] for key in listed]
    assert seen[0]["last_used_at"] is not None


def test_list_pages_newest_first(client):
    ids = [client.post("/api/v1/api-keys", json={"name": f"k{i}"}).json["id"] for i in range(3)]
    first = client.get("/api/v1/api-keys?limit=2").json
    rest = client.get("/api/v1/api-keys", query_string={"limit": 2, "cursor": first["next_cursor"]}).json
    assert [key["id"] for key in first["items"] + rest["items"]][:3] == ids[::-1]
    assert rest["next_cursor"] is None and len(rest["items"]) == 2


def test_revoke_makes_the_key_401(stack, client):
    created = client.post("/api/v1/api-keys", json={"name": "leaving"}).json
    as_new = stack.client(created["key"])
    assert as_new.get("/api/v1/workflows").status_code == 200
    response = client.delete(f"/api/v1/api-keys/{created['id']}")
    assert response.status_code == 200
    assert set(response.json) == KEY_FIELDS and response.json["revoked_at"] is not None
    assert as_new.get("/api/v1/workflows").status_code == 401
    assert client.get("/api/v1/api-keys").json["items"][0]["revoked_at"] == response.json["revoked_at"]
    assert client.delete(f"/api/v1/api-keys/{created['id']}").json == response.json     # again: unchanged


def test_a_key_can_revoke_itself(stack, client):
    created = client.post("/api/v1/api-keys", json={"name": "self"}).json
    as_new = stack.client(created["key"])
    assert as_new.delete(f"/api/v1/api-keys/{created['id']}").status_code == 200
    assert as_new.get("/api/v1/api-keys").status_code == 401
    assert client.get("/api/v1/api-keys").status_code == 200


def test_another_owners_key_is_404(stack, client, other):
    mine = client.post("/api/v1/api-keys", json={"name": "mine"}).json
    for key_id in (mine["id"], uuid.uuid4()):
        response = other.delete(f"/api/v1/api-keys/{key_id}")
        assert response.status_code == 404
        assert response.json == {"code": 404, "status": "Not Found", "message": f"API key {key_id} not found",
                                 "errors": {}}
    assert mine["id"] not in {key["id"] for key in other.get("/api/v1/api-keys").json["items"]}
    assert stack.client(mine["key"]).get("/api/v1/workflows").status_code == 200


def test_an_admin_makes_lists_and_revokes_any_users_keys(stack, client, other):
    made = client.post("/api/v1/api-keys", json={"name": "deploy", "user_email": "ops@example.com"})
    assert made.status_code == 201 and made.json["user_email"] == "ops@example.com"
    assert stack.client(made.json["key"]).get("/api/v1/api-keys").json["items"][0]["name"] == "deploy"
    assert made.json["id"] not in {key["id"] for key in client.get("/api/v1/api-keys").json["items"]}
    every = client.get("/api/v1/api-keys?all=true").json["items"]
    assert {(key["name"], key["user_email"]) for key in every} >= {
        ("deploy", "ops@example.com"), ("test", "other@example.com"), ("bootstrap", "admin@localhost")}
    assert client.delete(f"/api/v1/api-keys/{made.json['id']}").json["revoked_at"] is not None
    assert stack.client(made.json["key"]).get("/api/v1/api-keys").status_code == 401


def test_only_an_admin_makes_other_users_keys_or_lists_everyones(other):
    assert other.post("/api/v1/api-keys", json={"name": "x", "user_email": "else@example.com"}).status_code == 403
    assert other.post("/api/v1/api-keys", json={"name": "x", "user_email": "other@example.com"}).status_code == 201
    response = other.get("/api/v1/api-keys?all=true")
    assert response.status_code == 403 and response.json["message"] == "only an admin lists every user's keys"


@pytest.mark.parametrize("body, field", [({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 101}, "name"),
                                         ({"name": "ok", "key": "mine"}, "key")])
def test_a_body_that_fails_its_schema_is_422(client, body, field):
    response = client.post("/api/v1/api-keys", json=body)
    assert response.status_code == 422
    assert set(response.json["errors"]) == {field}
    assert len(client.get("/api/v1/api-keys").json["items"]) == 1
