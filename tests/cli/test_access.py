"""`orchestrator api-keys`: the first key of an install on the database (there is no key to
call the API with yet), every other through the API like every resource command."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from orchestrator.cli.client import Client
from orchestrator.cli.main import main
from orchestrator.db import AuditLog
from orchestrator.db.session import transaction
from orchestrator.services import api_keys
from tests.support.api import BOOTSTRAP_KEY


def _key(out: str) -> str:
    return out.strip().splitlines()[-1]


def test_the_first_key_is_made_on_the_database_and_audited(migrated_settings, monkeypatch, capsys):
    for name in ("ORCHESTRATOR_URL", "ORCHESTRATOR_API_KEY", "ORCHESTRATOR_BOOTSTRAP_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["api-keys", "create", "--name", "first"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("created API key ork_") and "for admin@localhost on the database" in out
    assert main(["api-keys", "create", "--name", "deploy", "--user", "ops@example.com"]) == 0
    with transaction() as session:
        admin = api_keys.authenticate(session, _key(out))
        ops = api_keys.authenticate(session, _key(capsys.readouterr().out))
        assert (admin.email, admin.is_admin, ops.email, ops.is_admin) == (
            "admin@localhost", True, "ops@example.com", False)
        rows = session.scalars(select(AuditLog).order_by(AuditLog.created_at)).all()
        assert [(r.action, r.user_id, r.client_address, r.payload["user"]) for r in rows] == [
            ("api_key.create", None, "cli", "admin@localhost"), ("api_key.create", None, "cli", "ops@example.com")]


def test_keys_through_the_api(cli, served, monkeypatch):
    made = cli("api-keys", "create", "--name", "ci")
    assert made.startswith("created API key ork_") and "for admin@localhost; it is shown only" in made
    ops = cli("api-keys", "create", "--name", "deploy", "--user", "ops@example.com", "--json")
    assert ops["user_email"] == "ops@example.com" and ops["key"].startswith(ops["prefix"])
    mine = cli("api-keys", "list", "--json")
    assert mine["next_cursor"] is None and [k["name"] for k in mine["items"]] == ["ci", "bootstrap"]
    every = {k["name"]: k["user_email"] for k in cli("api-keys", "list", "--all", "--json")["items"]}
    assert every == {"deploy": "ops@example.com", "ci": "admin@localhost", "bootstrap": "admin@localhost"}

    as_ops = ("--api-key", ops["key"])
    assert [k["name"] for k in cli("api-keys", "list", *as_ops, "--json")["items"]] == ["deploy"]
    refused = cli("api-keys", "create", "--name", "x", "--user", "else@example.com", *as_ops, code=2)
    assert refused == "error: POST /api-keys: 403 only an admin makes keys for other users\n"
    assert "403 only an admin lists every user's keys" in cli("api-keys", "list", "--all", *as_ops, code=2)
    assert "no API key with prefix 'ork_nothing1'" in cli("api-keys", "revoke", "ork_nothing1", *as_ops, code=2)

    assert cli("api-keys", "revoke", ops["prefix"]) == f"revoked API key {ops['prefix']}\n"    # an admin: anyone's
    assert "401" in cli("api-keys", "list", *as_ops, code=2)
    audit = Client(os.environ["ORCHESTRATOR_URL"], BOOTSTRAP_KEY).items("/audit-logs")
    assert [(a["action"], (a["payload"] or {}).get("user")) for a in audit][:2] == [
        ("api_key.revoke", None), ("api_key.create", "ops@example.com")]
    assert all(a["user_id"] and a["client_address"] == "127.0.0.1" for a in audit)


@pytest.mark.parametrize("width", [80, 100])
def test_a_key_list_keeps_prefixes_and_statuses_whole(cli, monkeypatch, width):
    cli("api-keys", "create", "--name", "a-rather-long-name-for-a-key-" + "x" * 30)
    monkeypatch.setenv("COLUMNS", str(width))
    table = cli("api-keys", "list", "--all")
    assert all(len(line) <= width for line in table.splitlines())
    assert table.count("ork_") == 2 and BOOTSTRAP_KEY[:12] in table and table.count(" active") == 2
