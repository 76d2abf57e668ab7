"""Engine and session factory.

SQLite gets WAL, busy_timeout and foreign_keys=ON (seed 003), and every transaction starts
with ``BEGIN IMMEDIATE`` so that writers serialise instead of failing to upgrade a read
lock. PostgreSQL gets a pool without pre-ping, unless asked (the API).
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from orchestrator.config import Settings, get_settings

SQLITE_BUSY_TIMEOUT_MS = 15_000


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, pre_ping: bool = False) -> Engine:
    """``pre_ping``: test each pooled PostgreSQL connection before use (the API's choice; see
    ``api.create_app``)."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    # By default no pre-ping (a round trip per transaction, on the workers' hot path): a
    # connection found dropped is replaced and the transaction run again (``Engine.atomic``).
    return create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=pre_ping)


@lru_cache(maxsize=8)
def _engine_for(url: str, pre_ping: bool) -> Engine:
    return make_engine(url, pre_ping)


def get_engine(settings: Settings | None = None, pre_ping: bool = False) -> Engine:
    return _engine_for((settings or get_settings()).database_url, pre_ping)


def session_factory(settings: Settings | None = None, pre_ping: bool = False) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(settings, pre_ping), expire_on_commit=False)


@contextmanager
def transaction(settings: Settings | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error, always close."""
    with session_factory(settings)() as session, session.begin():
        yield session
