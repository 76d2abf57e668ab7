"""`orchestrator providers|credentials|models` on the embedded SQLite database."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from orchestrator.standalone import Stack
from tests.conftest import make_settings
from tests.integration.test_run_anywhere import clean_env

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-cli-test-key-0123456789ABCD"


def cli(tmp_path, *args, stdin="", **env):
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=ROOT, input=stdin, text=True,
                          capture_output=True, timeout=60,
                          env=clean_env(ORCHESTRATOR_DATA_DIR=str(tmp_path), **env))


def test_configure_a_provider_from_the_command_line(tmp_path):
    assert cli(tmp_path, "db", "upgrade").returncode == 0
    refused = cli(tmp_path, "providers", "add", "local", "--type", "openai", "--base-url", "http://127.0.0.1:8766/v1")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: base_url refused: refusing to connect to 127.0.0.1 (loopback address)")
    assert "ORCHESTRATOR_LLM_ALLOW_PRIVATE=1" in refused.stderr and refused.stderr.count("\n") == 1

    added = cli(tmp_path, "providers", "add", "local", "--type", "openai", "--base-url", "http://127.0.0.1:8766/v1",
                ORCHESTRATOR_LLM_ALLOW_PRIVATE="1")
    assert added.returncode == 0, added.stderr
    assert cli(tmp_path, "credentials", "add", "local", "--alias", "main", stdin=KEY + "\n").stdout == \
        "added credential main (...ABCD) to local\n"
    assert cli(tmp_path, "models", "add", "local", "m1", "--input-price", "0.5", "--output-price", "1.5").returncode \
        == 0
    listing = cli(tmp_path, "providers", "list").stdout.splitlines()
    assert listing[1].split() == ["local", "openai", "yes", "m1", "1", "http://127.0.0.1:8766/v1"]

    unknown = cli(tmp_path, "models", "add", "nobody", "m1")
    assert (unknown.returncode, unknown.stderr) == (2, "error: no provider named 'nobody' "
                                                       "(see `orchestrator providers list`)\n")
    empty = cli(tmp_path, "credentials", "add", "local", stdin="")
    assert empty.returncode == 2 and "no API key given" in empty.stderr
    duplicate = cli(tmp_path, "models", "add", "local", "m1")
    assert duplicate.stderr == "error: a model 'm1' for provider 'local' already exists\n"
    assert cli(tmp_path, "models", "add", "local", "m2", "--input-price", "-3").returncode == 2

    stored = b"".join(p.read_bytes() for p in tmp_path.glob("orchestrator.db*"))
    assert b"...ABCD" in stored and KEY.encode() not in stored


def test_standalone_lets_model_endpoints_be_private_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("ORCHESTRATOR_LLM_ALLOW_PRIVATE", raising=False)
    assert Stack(make_settings(tmp_path))._env()["ORCHESTRATOR_LLM_ALLOW_PRIVATE"] == "1"
    monkeypatch.setenv("ORCHESTRATOR_LLM_ALLOW_PRIVATE", "0")
    assert Stack(make_settings(tmp_path))._env()["ORCHESTRATOR_LLM_ALLOW_PRIVATE"] == "0"
