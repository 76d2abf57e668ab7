"""/secrets: per owner, values sealed at rest and never returned."""
from __future__ import annotations

from sqlalchemy import select

from orchestrator.db import Secret
from orchestrator.secrets import MASK, redact_values, secret_names, secret_values

VALUE = "tok-9f8e7d6c5b4a"


def test_set_list_replace_delete(stack, client):
    created = client.post("/api/v1/secrets", json={"name": "GITHUB_TOKEN", "value": VALUE})
    assert created.status_code == 201 and set(created.json) == {"name", "created_at", "updated_at"}
    replaced = client.post("/api/v1/secrets", json={"name": "GITHUB_TOKEN", "value": "other-value"})
    assert replaced.status_code == 200
    listed = client.get("/api/v1/secrets")
    assert [s["name"] for s in listed.json["items"]] == ["GITHUB_TOKEN"]
    assert VALUE not in listed.get_data(as_text=True) and "other-value" not in listed.get_data(as_text=True)
    with stack.engine.sessions() as session:
        owner_id = session.scalar(select(Secret.owner_id))
        assert secret_values(session, stack.engine.keyring, owner_id, ["GITHUB_TOKEN", "NOPE"]) == {
            "GITHUB_TOKEN": "other-value"}
        assert secret_values(session, stack.engine.keyring, owner_id, []) == {}
    assert client.delete("/api/v1/secrets/GITHUB_TOKEN").status_code == 204
    assert client.delete("/api/v1/secrets/GITHUB_TOKEN").status_code == 404
    assert client.get("/api/v1/secrets").json["items"] == []


def test_values_are_sealed_at_rest(stack, client):
    client.post("/api/v1/secrets", json={"name": "K", "value": VALUE})
    with stack.engine.sessions() as session:
        row = session.scalar(select(Secret))
        assert VALUE.encode() not in row.value_encrypted and len(row.value_iv) == 12
        assert row.key_id == stack.engine.keyring.primary_key_id


def test_secrets_are_per_owner(stack, client, other):
    client.post("/api/v1/secrets", json={"name": "K", "value": VALUE})
    assert other.get("/api/v1/secrets").json["items"] == []
    assert other.delete("/api/v1/secrets/K").status_code == 404
    assert other.post("/api/v1/secrets", json={"name": "K", "value": "theirs"}).status_code == 201
    with stack.engine.sessions() as session:
        values = {str(row.owner_id): secret_values(session, stack.engine.keyring, row.owner_id, ["K"])["K"]
                  for row in session.scalars(select(Secret))}
    assert sorted(values.values()) == sorted([VALUE, "theirs"])


def test_bad_names_and_values_are_422(client, anonymous):
    for body, field in (({"name": "1abc", "value": "x"}, "name"), ({"name": "a-b", "value": "x"}, "name"),
                        ({"name": "A", "value": ""}, "value"), ({"name": "A"}, "value"),
                        ({"name": "A", "value": "x" * 70000}, "value")):
        response = client.post("/api/v1/secrets", json=body)
        assert response.status_code == 422 and field in response.json["errors"], (body, response.json)
    assert anonymous.get("/api/v1/secrets").status_code == 401


def test_redact_values_masks_every_occurrence_in_any_json():
    secrets = {"A": "abc123", "B": "abc123-longer"}
    data = {"headers": {"Authorization": "Bearer abc123-longer"}, "list": ["x abc123 y", 5, None],
            "abc123": True}
    assert redact_values(data, secrets) == {"headers": {"Authorization": f"Bearer {MASK}"},
                                            "list": [f"x {MASK} y", 5, None], MASK: True}
    assert redact_values("no secret here", secrets) == "no secret here"
    assert redact_values("abc123", {}) == "abc123"


def test_the_secrets_a_config_names():
    config = {"headers": {"Authorization": "Bearer {{ secrets.API_TOKEN }}"}, "url": "{{ secrets['BASE'] }}/x",
              "body": "{{ input.secrets.NOT_ONE }} {{ nodes.a.output }}"}
    assert secret_names(config) == {"API_TOKEN", "BASE"}
