"""What a wheel user gets: the sdist and the wheel built from the checkout (``python -m
build``: the wheel is built from the sdist, so the sdist is complete enough to build it), then
the wheel installed into a fresh virtual environment with the runtime pins only
(constraints.txt): it carries its migrations (``orchestrator db upgrade``) and runs a
workflow (``orchestrator run``: API, worker and beat processes of the installed package)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import venv
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from tests.support.workers import ROOT

pytestmark = pytest.mark.integration
# Left behind by development, never part of a build.
NOT_SOURCES = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "orchestrator-data")


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The directory holding the sdist and the wheel, built from a copy of the checkout."""
    source, out = tmp_path_factory.mktemp("source") / "orchestrator", tmp_path_factory.mktemp("dist")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", out, source], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory) -> Path:
    """The ``bin`` directory of a fresh venv with the wheel installed at the runtime pins."""
    env_dir = tmp_path_factory.mktemp("wheel-venv")
    venv.create(env_dir, with_pip=True)
    [wheel] = dist.glob("*.whl")
    done = subprocess.run([env_dir / "bin" / "pip", "install", "--quiet", "-c", ROOT / "constraints.txt", wheel],
                          cwd=env_dir, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return env_dir / "bin"


def clean_env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}, **extra}


def test_the_sdist_has_the_license_pins_procfile_and_alembic_layout(dist):
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "constraints.txt", "constraints-test.txt", "Procfile", "alembic.ini", "alembic/env.py",
            "alembic/script.py.mako", "orchestrator/migrations/env.py", "docker-compose.yml", "Dockerfile"} <= names
    assert any(name.startswith("orchestrator/migrations/versions/0001_") for name in names)


def test_the_wheel_carries_its_license_and_keeps_flower_optional(installed):
    probe = ("from importlib.metadata import distribution as d; o = d('orchestrator'); "
             "print(o.metadata['License-Expression'], *[f.name for f in o.files if '.dist-info/licenses/' in str(f)])")
    shown = subprocess.run([installed / "python", "-c", probe], capture_output=True, text=True, check=True,
                           cwd=installed, env=clean_env()).stdout.split()     # not the checkout's egg-info
    assert shown == ["LicenseRef-Proprietary", "LICENSE"]
    assert subprocess.run([installed / "python", "-c", "import flower"], capture_output=True, cwd=installed,
                          env=clean_env()).returncode != 0               # only with orchestrator[flower]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_wheel_install_upgrades_the_database(installed, kind, request, tmp_path):
    url = (request.getfixturevalue("servers").create_database() if kind == "postgresql"
           else f"sqlite:///{tmp_path / 'wheel.db'}")
    done = subprocess.run([installed / "orchestrator", "db", "upgrade"], cwd=tmp_path, capture_output=True, text=True,
                          env=clean_env(DATABASE_URL=url, ORCHESTRATOR_DATA_DIR=str(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "database at head"
    assert "built-in templates" in done.stdout          # shipped as package data, installed by db upgrade
    where = subprocess.run([installed / "python", "-c", "import orchestrator; print(orchestrator.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, env=clean_env(), check=True).stdout
    assert "site-packages" in where and str(ROOT) not in where     # the installed copy ran, not the checkout
    engine = create_engine(url)
    assert {"users", "executions", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_a_wheel_install_runs_a_workflow(installed, tmp_path):
    flow = tmp_path / "flow.yaml"
    flow.write_text("name: wheel\nnodes:\n  - {id: a, type: transform, config: {output: {n: '{{ input.n * 2 }}'}}}\n"
                    "  - {id: b, type: noop}\nedges:\n  - {source: a, target: b}\n"
                    "output: {n: '{{ nodes.a.output.n }}'}\n")
    done = subprocess.run([installed / "orchestrator", "run", str(flow), "--input", '{"n": 21}'], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env=clean_env(ORCHESTRATOR_DATA_DIR=str(tmp_path / "data"), COLUMNS="200"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "completed" in done.stdout and '"n": 42' in done.stdout
