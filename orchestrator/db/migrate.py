"""Alembic, driven from code (``orchestrator db upgrade``, standalone start, tests), and the
body of both Alembic environments.

The migrations (``orchestrator/migrations/versions``) are package data, so this works from a
wheel install as well as from a checkout. A checkout also has the design's top-level
``alembic.ini`` and ``alembic/`` for the ``alembic`` command (``alembic upgrade head``,
``alembic revision``): its environment runs ``run_environment`` below on the same versions.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from logging.config import fileConfig
from typing import Iterator

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
    with _foreign_keys_off(connection) if sqlite else nullcontext():
        with context.begin_transaction():
            context.run_migrations()


@contextmanager
def _foreign_keys_off(connection) -> Iterator[None]:
    """SQLite's way to change a table's schema (its documentation, "ALTER TABLE"): foreign
    keys off, outside any transaction, while batch migrations copy a table and drop the old
    one; with them on, dropping ``executions`` would delete every row that cascades from it
    (its steps, events...). They are checked, and turned on again, afterwards."""
    raw = connection.connection.dbapi_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        raw.execute("PRAGMA foreign_keys=ON")
    if broken:
        raise RuntimeError(f"the migration left {len(broken)} row(s) whose foreign key points nowhere, "
                           f"the first in table {broken[0][0]}")
