"""``orchestrator db check``: cheap checks that the database is whole and current (seed 003).

Both: the connection, the schema at the newest migration, every table of the models there.
SQLite: ``PRAGMA integrity_check`` (pages, indexes, constraints), ``PRAGMA foreign_key_check``
and the write-ahead log in use. PostgreSQL: no invalid index (a failed concurrent build) and
no constraint left unvalidated (``NOT VALID``).
"""
from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from orchestrator.config import Settings
from orchestrator.db.base import Base
from orchestrator.db.migrate import alembic_config
from orchestrator.db.session import get_engine

# At most this many problems of one kind are listed.
SHOWN = 10


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _rows(conn: Connection | sqlite3.Connection, sql: str) -> list[str]:
    result = conn.execute(sql) if isinstance(conn, sqlite3.Connection) else conn.execute(text(sql))
    rows = result.fetchmany(SHOWN + 1)
    return [" ".join(str(v) for v in row) for row in rows]


def _listed(rows: list[str], none: str) -> tuple[bool, str]:
    if not rows:
        return True, none
    return False, "; ".join(rows[:SHOWN]) + (" …" if len(rows) > SHOWN else "")


def _schema(conn: Connection) -> list[Check]:
    current = set(MigrationContext.configure(conn).get_current_heads())
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    missing = sorted(set(Base.metadata.tables) - set(inspect(conn).get_table_names()))
    return [
        Check("migrations", current == heads, f"at {', '.join(sorted(current)) or 'none'}" + (
            "" if current == heads else f", newest is {', '.join(sorted(heads))}: run `orchestrator db upgrade`")),
        Check("tables", not missing, "every table present" if not missing else f"missing: {', '.join(missing)}"),
    ]


def _sqlite(database: str) -> list[Check]:
    """On a read-only connection of its own: the checks take no write lock, so writers go on."""
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        integrity = [row for row in _rows(conn, "PRAGMA integrity_check") if row != "ok"]
        orphans = _rows(conn, "PRAGMA foreign_key_check")
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    return [
        Check("integrity_check", *_listed(integrity, "ok")),
        Check("foreign_key_check", *_listed([f"table, rowid, parent, fk: {row}" for row in orphans],
                                            "no row refers to a missing parent")),
        Check("journal_mode", mode == "wal", f"{mode}" + ("" if mode == "wal" else ": expected wal")),
    ]


def _postgresql(conn: Connection) -> list[Check]:
    invalid = _rows(conn, "SELECT indexrelid::regclass FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                          "JOIN pg_namespace n ON n.oid = c.relnamespace "
                          "WHERE NOT i.indisvalid AND n.nspname = current_schema()")
    unvalidated = _rows(conn, "SELECT conname, conrelid::regclass FROM pg_constraint c "
                              "JOIN pg_namespace n ON n.oid = c.connamespace "
                              "WHERE NOT c.convalidated AND n.nspname = current_schema()")
    return [
        Check("indexes", *_listed([f"invalid: {row}" for row in invalid], "every index valid")),
        Check("constraints", *_listed([f"not validated: {row}" for row in unvalidated], "every constraint validated")),
    ]


def check(settings: Settings) -> list[Check]:
    """Each check with whether it passed and what it found. A database that cannot be reached
    raises (SQLAlchemy's error, which the CLI words)."""
    engine = get_engine(settings)
    with engine.connect() as conn:
        version = conn.execute(text("SELECT sqlite_version()" if engine.dialect.name == "sqlite"
                                    else "SHOW server_version")).scalar()
        checks = [Check("connection", True, f"{engine.dialect.name} {version}"), *_schema(conn)]
        checks += _postgresql(conn) if engine.dialect.name == "postgresql" else []
    database = engine.url.database          # None only in memory, where there is no file to check
    return checks + (_sqlite(database) if engine.dialect.name == "sqlite" and database else [])
