"""`orchestrator providers|credentials|models` through the API: against a served API, and on the
embedded default, where the API started for the command lets model endpoints be local."""
from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.cli.standalone import Stack
from tests.conftest import make_settings
from tests.integration.test_run_anywhere import clean_env

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-cli-test-key-0123456789ABCD"
LOCAL = "http://127.0.0.1:8766/v1"


def test_configure_a_provider_from_the_command_line(cli, monkeypatch, tmp_path):
    assert cli("providers", "add", "local", "--type", "openai", "--base-url", LOCAL) == (
        f"added provider local (openai) at {LOCAL}; next: `orchestrator credentials add local` and "
        "`orchestrator models add local MODEL_ID`\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(KEY + "\n"))
    assert cli("credentials", "add", "local", "--alias", "main") == "added credential main (...ABCD) to local\n"
    assert cli("models", "add", "local", "m1", "--input-price", "0.5", "--output-price", "1.5") == \
        "added model local/m1; use it as `model: local/m1`\n"
    row = next(line for line in cli("providers", "list").splitlines() if line.startswith("local"))
    assert row.split() == ["local", "openai", "yes", "m1", "1", LOCAL]
    listed = cli("providers", "list", "--json")
    assert listed["next_cursor"] is None and [p["name"] for p in listed["items"]] == ["local"]
    refused = cli("providers", "add", "ftp", "--type", "openai", "--base-url", "ftp://models.example", code=2)
    assert refused.startswith("error: POST /providers/") and "base_url" in refused and refused.count("\n") == 1
    assert [p["name"] for p in cli("providers", "list", "--json")["items"]] == ["local"]   # not kept half-made

    assert cli("models", "add", "nobody", "m1", code=2) == \
        "error: no provider named 'nobody' (see `orchestrator providers list`)\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert "no API key given" in cli("credentials", "add", "local", code=2)
    duplicate = cli("models", "add", "local", "m1", code=2)
    assert duplicate.startswith("error: POST /providers/") and duplicate.count("\n") == 1
    assert "a model 'm1' for provider 'local' already exists" in duplicate
    with pytest.raises(SystemExit) as refused:
        cli("models", "add", "local", "m2", "--input-price", "-3")
    assert refused.value.code == 2

    stored = b"".join(p.read_bytes() for p in tmp_path.glob("orchestrator.db*"))
    assert b"...ABCD" in stored and KEY.encode() not in stored


def test_a_local_stack_lets_a_local_model_server_be_added(tmp_path):
    # No API runs: the command starts the data directory's API for itself, a local stack, whose
    # environment lets model endpoints be private (unless 0: the test below).
    added = subprocess.run([sys.executable, "-m", "orchestrator.cli", "providers", "add", "local", "--type", "openai",
                            "--base-url", LOCAL], cwd=ROOT, text=True, capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL, env=clean_env(ORCHESTRATOR_DATA_DIR=str(tmp_path)))
    assert added.returncode == 0 and added.stdout.startswith(f"added provider local (openai) at {LOCAL}"), \
        added.stdout + added.stderr
    with sqlite3.connect(tmp_path / "orchestrator.db") as db:
        assert db.execute("SELECT base_url FROM endpoints").fetchall() == [(LOCAL,)]


def test_standalone_lets_model_endpoints_be_private_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("ORCHESTRATOR_LLM_ALLOW_PRIVATE", raising=False)
    assert Stack(make_settings(tmp_path))._env()["ORCHESTRATOR_LLM_ALLOW_PRIVATE"] == "1"
    monkeypatch.setenv("ORCHESTRATOR_LLM_ALLOW_PRIVATE", "0")
    assert Stack(make_settings(tmp_path))._env()["ORCHESTRATOR_LLM_ALLOW_PRIVATE"] == "0"
