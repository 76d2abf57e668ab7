"""Backup and restore of the database (seed 003): the database is all the state; the broker
holds only doorbells, which the sweeper sends again.

SQLite: SQLite's online backup API (``sqlite3.Connection.backup``) copies a consistent
snapshot while the API and workers write (what is in the write-ahead log included), to a file
of its own. PostgreSQL: ``pg_dump -Fc`` and ``pg_restore`` from the PostgreSQL client tools,
with the connection given in PG* variables (the password never on a command line).

After a restore, what was in flight resumes: the restored database's queued steps are marked
unsent and its running steps' leases expired, so the first sweep of any worker sends the one
and recovers the other (a new attempt, not counted as a failure).
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, inspect, make_url, update
from sqlalchemy.engine import URL

from orchestrator.config import Settings
from orchestrator.db.executions import ExecutionStep
from orchestrator.db.session import get_engine
from orchestrator.db.types import utcnow
from orchestrator.states import StepStatus

PG_CLIENT_HINT = ("install the PostgreSQL client tools of the server's major version (Debian: apt-get install "
                  "postgresql-client-16, or postgresql-client for the distribution's)")


class BackupError(Exception):
    """A backup, restore or check that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Resumed:
    """What a restore left for the workers' first sweep."""

    queued: int
    running: int


def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not on PATH: {PG_CLIENT_HINT}")
    return found


def _pg_env(url: URL) -> dict[str, str]:
    """The connection as libpq's variables."""
    env = dict(os.environ)
    for variable, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                            ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):
        if value is not None:
            env[variable] = str(value)
    return env


def _run(command: list[str], url: URL) -> None:
    done = subprocess.run(command, env=_pg_env(url), capture_output=True, text=True)
    if done.returncode != 0:
        detail = " ".join((done.stderr or done.stdout).split())[:500]
        raise BackupError(f"{Path(command[0]).name} failed: {detail}")


def _fresh_target(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise BackupError(f"{path} exists: choose another path, or pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while others write, WAL content included."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def backup(settings: Settings, path: Path, force: bool = False) -> None:
    """Write a backup of the configured database to ``path`` (a SQLite file, or pg_dump's custom format)."""
    url = make_url(settings.database_url)
    _fresh_target(path, force)
    staged = path.with_name(f".{path.name}.partial")
    if url.get_backend_name() == "sqlite":
        source = _sqlite_file(url)
        if not source.exists():
            raise BackupError(f"no database at {source}: nothing to back up")
        _copy_sqlite(source, staged)
    else:
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={staged}"], url)
    os.replace(staged, path)


def _has_tables(settings: Settings) -> bool:
    return bool(set(inspect(get_engine(settings)).get_table_names()) - {"alembic_version"})


def _check_sqlite_backup(path: Path) -> None:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is not a SQLite backup: {exc}") from None
    if result != "ok":
        raise BackupError(f"{path} is damaged: {result}")


def restore(settings: Settings, path: Path, force: bool = False) -> Resumed:
    """Replace the configured database's contents with the backup at ``path``. Refused when the
    database holds tables unless ``force``: stop every API, worker and beat that uses it first."""
    if not path.is_file():
        raise BackupError(f"no backup at {path}")
    url = make_url(settings.database_url)
    if _has_tables(settings) and not force:
        raise BackupError(f"the database {url.render_as_string(hide_password=True)} is not empty: pass --force to "
                          "replace its contents (stop every API, worker and beat that uses it first)")
    if url.get_backend_name() == "sqlite":
        _check_sqlite_backup(path)
        get_engine(settings).dispose()
        _copy_sqlite(path, _sqlite_file(url))
    else:
        get_engine(settings).dispose()
        _run([_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction", "--clean", "--if-exists",
              f"--dbname={url.database}", str(path)], url)
    with get_engine(settings).begin() as conn:
        return resume_in_flight(conn)


def resume_in_flight(conn: Connection) -> Resumed:
    """The restored deployment's broker never held the messages of its queued steps, and no
    worker of it runs its running steps: mark the first unsent and expire the second's leases."""
    queued = conn.execute(update(ExecutionStep).where(ExecutionStep.status == StepStatus.QUEUED.value)
                          .values(dispatched_at=None)).rowcount
    running = conn.execute(update(ExecutionStep).where(ExecutionStep.status == StepStatus.RUNNING.value)
                           .values(lease_expires_at=utcnow())).rowcount
    return Resumed(queued, running)
