"""Alembic, driven from code (``orchestrator db upgrade``, standalone start, tests).

The migrations are package data (``orchestrator/migrations``), so this works from a wheel
install as well as from a checkout; ``alembic.ini`` at the root points at the same place
for the ``alembic`` command.
"""
from __future__ import annotations

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = "orchestrator:migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["configure_logging"] = False
    return config


def upgrade_database(revision: str = "head") -> None:
    """Migrate DATABASE_URL (orchestrator.config) to ``revision``."""
    command.upgrade(alembic_config(), revision)
