"""Alembic, driven from code (``orchestrator db upgrade``, standalone start, tests), and the
body of both Alembic environments.

The migrations (``orchestrator/migrations/versions``) are package data, so this works from a
wheel install as well as from a checkout. A checkout also has the design's top-level
``alembic.ini`` and ``alembic/`` for the ``alembic`` command (``alembic upgrade head``,
``alembic revision``): its environment runs ``run_environment`` below on the same versions.
"""
from __future__ import annotations

from logging.config import fileConfig

from alembic import command, context
from alembic.config import Config

from orchestrator.config import get_settings
from orchestrator.db import Base
from orchestrator.db.session import make_engine

SCRIPT_LOCATION = "orchestrator:migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["configure_logging"] = False
    return config


def upgrade_database(revision: str = "head") -> None:
    """Migrate DATABASE_URL (orchestrator.config) to ``revision``."""
    command.upgrade(alembic_config(), revision)


def run_environment() -> None:
    """What an Alembic env.py does: one set of migrations for PostgreSQL and SQLite, on the
    connection handed over in ``config.attributes``, else on DATABASE_URL."""
    config = context.config
    if config.config_file_name is not None and config.attributes.get("configure_logging", True):
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    if context.is_offline_mode():
        raise SystemExit("offline (--sql) migrations are not supported; run against a database")
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or get_settings().database_url)
    with engine.connect() as connection:
        _migrate(connection)
    engine.dispose()


def _migrate(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=sqlite,
                      compare_type=True)
    # SQLite's batch migrations copy a table, drop the old one and rename the copy: with
    # foreign keys on, the drop would cascade into every table that references it (SQLite's
    # own advice: foreign keys off while a schema changes, which works outside a transaction only).
    pragma = connection.connection.driver_connection.execute if sqlite and not connection.in_transaction() else None
    if pragma is not None:
        pragma("PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if pragma is not None:
            pragma("PRAGMA foreign_keys=ON")
