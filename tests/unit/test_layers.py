"""The layer rule: orchestrator/ imports neither Flask nor Celery, nor api/ or worker/."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"flask", "flask_smorest", "celery", "kombu", "api", "worker"}


def imported_top_levels(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant):
                names.add(str(node.args[0].value).split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "orchestrator").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_no_framework(path):
    assert not imported_top_levels(path) & FORBIDDEN


def test_the_check_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom celery import shared_task\nimportlib.import_module('flask')\n")
    assert imported_top_levels(bad) & FORBIDDEN == {"celery", "flask"}
