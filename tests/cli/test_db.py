"""`orchestrator db backup|restore|check` on SQLite and PostgreSQL: what they copy, what they
refuse, and what the check finds. (A backup taken while workers run, restored and resumed:
tests/integration/test_backup.py.)"""
from __future__ import annotations

import sqlite3
from contextlib import closing

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from orchestrator.cli.main import main
from orchestrator.db import Workflow
from orchestrator.db.migrate import alembic_config
from orchestrator.db.session import get_engine, transaction
from orchestrator.services import api_keys, workflows
from orchestrator.crypto import load_keyring
from tests.conftest import make_settings, use_settings
from tests.support.api import workflow_fixture

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def a_workflow(settings) -> str:
    with transaction(settings) as session:
        owner = api_keys.get_or_create_user(session, "db@example.com")
        return str(workflows.create_workflow(session, load_keyring(settings), owner, workflow_fixture("chain")).id)


def fresh(request, tmp_path, monkeypatch, kind: str):
    """Another empty database of the same kind, made the current settings."""
    url = request.getfixturevalue("servers").create_database() if kind == "postgresql" \
        else f"sqlite:///{tmp_path / 'restored.db'}"
    return use_settings(monkeypatch, make_settings(tmp_path, url))


def test_backup_restore_into_a_fresh_database_and_check(migrated_settings, request, tmp_path, monkeypatch, capsys):
    kind = get_engine(migrated_settings).dialect.name
    workflow_id = a_workflow(migrated_settings)
    path = tmp_path / "orchestrator.backup"
    assert main(["db", "backup", str(path)]) == 0
    assert f"backed up to {path}" in capsys.readouterr().out
    assert main(["db", "backup", str(path)]) == 2
    assert capsys.readouterr().err == f"error: {path} exists: choose another path, or pass --force to replace it\n"

    target = fresh(request, tmp_path, monkeypatch, kind)
    assert main(["db", "restore", str(path)]) == 0
    assert "restored" in capsys.readouterr().out
    with get_engine(target).connect() as conn:
        assert str(conn.scalar(select(Workflow.id))) == workflow_id
    assert main(["db", "restore", str(path)]) == 2
    assert "is not empty: pass --force" in capsys.readouterr().err
    assert main(["db", "restore", str(path), "--force"]) == 0
    assert main(["db", "check"]) == 0
    out = capsys.readouterr().out
    assert f"ok    migrations         at {HEAD}" in out and "FAIL" not in out
    get_engine(target).dispose()


def test_check_finds_an_old_schema_and_rows_whose_parent_is_gone(migrated_settings, capsys):
    kind = get_engine(migrated_settings).dialect.name
    a_workflow(migrated_settings)
    command.downgrade(alembic_config(), "0008_lighter_step_writes")
    assert main(["db", "check"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  migrations         at 0008_lighter_step_writes, newest is {HEAD}: run `orchestrator db " \
           "upgrade`" in out
    assert "FAIL  tables             missing: app_keys, app_licenses, apps" in out
    if kind == "sqlite":
        get_engine(migrated_settings).dispose()
        database = migrated_settings.database_url.removeprefix("sqlite:///")
        with closing(sqlite3.connect(database)) as conn:      # foreign keys are off on a plain connection
            conn.execute("UPDATE workflows SET owner_id = 'ffffffffffffffffffffffffffffffff'")
            conn.commit()
        assert main(["db", "check"]) == 1
        assert "FAIL  foreign_key_check  table, rowid, parent, fk: workflows 1 users " in capsys.readouterr().out
    else:
        with get_engine(migrated_settings).begin() as conn:
            conn.execute(text("ALTER TABLE workflows ADD CONSTRAINT ck_probe CHECK (length(name) > 0) NOT VALID"))
        assert main(["db", "check"]) == 1
        assert "FAIL  constraints        not validated: ck_probe workflows" in capsys.readouterr().out


def test_what_cannot_be_done_is_one_error_line(migrated_settings, tmp_path, monkeypatch, capsys):
    kind = get_engine(migrated_settings).dialect.name
    assert main(["db", "restore", str(tmp_path / "nothing.db")]) == 2
    assert capsys.readouterr().err == f"error: no backup at {tmp_path / 'nothing.db'}\n"
    if kind == "sqlite":
        bogus = tmp_path / "bogus.db"
        bogus.write_bytes(b"this is not a database" * 100)
        assert main(["db", "restore", str(bogus), "--force"]) == 2
        assert capsys.readouterr().err.startswith(f"error: {bogus} is not a SQLite backup: ")
    else:
        monkeypatch.setenv("PATH", str(tmp_path))
        assert main(["db", "backup", str(tmp_path / "x.dump")]) == 2
        assert capsys.readouterr().err.startswith("error: pg_dump is not on PATH: install the PostgreSQL client tools")
