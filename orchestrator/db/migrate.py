"""Alembic, driven from code (``orchestrator db upgrade``, standalone start, tests)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from orchestrator.agents.templates import BUILTIN_TEMPLATES
from orchestrator.db.session import transaction
from orchestrator.services.templates import install_builtin

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    return config


def upgrade_database(revision: str = "head") -> None:
    """Migrate DATABASE_URL (orchestrator.config) to ``revision``; at ``head``, install or update
    the built-in workflow templates too."""
    command.upgrade(alembic_config(), revision)
    if revision == "head":
        install_templates()


def install_templates() -> int:
    """Add or update the built-in templates (idempotent); how many rows changed."""
    with transaction() as session:
        return install_builtin(session, BUILTIN_TEMPLATES)
