"""Alembic, driven from code (``orchestrator db upgrade``, standalone start, tests)."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    return config


def upgrade_database(revision: str = "head") -> None:
    """Migrate DATABASE_URL (orchestrator.config) to ``revision``."""
    command.upgrade(alembic_config(), revision)
