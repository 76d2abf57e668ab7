"""A non-editable install (what a wheel user and the image get) carries its migrations:
``pip install .`` into a fresh virtual environment, then ``orchestrator db upgrade``."""
from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from tests.support.workers import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``bin`` directory of a fresh venv with the project installed from the checkout."""
    env_dir, source = tmp_path_factory.mktemp("wheel-venv"), tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "constraints.txt"):     # a copy: the build leaves build/ behind
        shutil.copy(ROOT / name, source)
    for package in ("orchestrator", "worker", "api"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    venv.create(env_dir, with_pip=True)
    subprocess.run([env_dir / "bin" / "pip", "install", "--quiet", "-c", source / "constraints.txt", source],
                   check=True, cwd=env_dir, capture_output=True)
    return env_dir / "bin"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_wheel_install_upgrades_the_database(installed, kind, request, tmp_path):
    url = (request.getfixturevalue("servers").create_database() if kind == "postgresql"
           else f"sqlite:///{tmp_path / 'wheel.db'}")
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    done = subprocess.run([installed / "orchestrator", "db", "upgrade"], cwd=tmp_path, capture_output=True, text=True,
                          env={**env, "DATABASE_URL": url, "ORCHESTRATOR_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "database at head"
    assert "built-in templates" in done.stdout          # shipped as package data, installed by db upgrade
    where = subprocess.run([installed / "python", "-c", "import orchestrator; print(orchestrator.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, env=env, check=True).stdout
    assert "site-packages" in where and str(ROOT) not in where     # the installed copy ran, not the checkout
    engine = create_engine(url)
    assert {"users", "executions", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()
