"""``orchestrator db backup|restore|check``: the database of DATABASE_URL (SQLite or PostgreSQL)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from orchestrator.config import get_settings
from orchestrator.db import backup, integrity


def _failing(action: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A BackupError is one ``error:`` line and exit status 2, as every expected failure of the CLI."""
    def run(args: argparse.Namespace) -> int:
        try:
            return action(args)
        except backup.BackupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return run


def _backup(args: argparse.Namespace) -> int:
    backup.backup(get_settings(), Path(args.path), args.force)
    print(f"backed up to {args.path} ({Path(args.path).stat().st_size} bytes); keep the encryption key "
          "(ORCHESTRATOR_ENCRYPTION_KEYS or the data directory's encryption.key) with it")
    return 0


def _restore(args: argparse.Namespace) -> int:
    resumed = backup.restore(get_settings(), Path(args.path), args.force)
    print(f"restored {args.path}; the workers' first sweep sends {resumed.queued} queued step(s) again and "
          f"recovers {resumed.running} running step(s)")
    return 0


def _check(_args: argparse.Namespace) -> int:
    checks = integrity.check(get_settings())
    for item in checks:
        print(f"{'ok  ' if item.ok else 'FAIL'}  {item.name:18} {item.detail}")
    return 0 if all(item.ok for item in checks) else 1


def add_db_commands(db: argparse._SubParsersAction) -> None:
    """``backup``, ``restore`` and ``check`` under ``orchestrator db``."""
    save = db.add_parser("backup", help="write a backup: SQLite's online backup, or pg_dump -Fc")
    save.add_argument("path", help="the backup file to write")
    save.add_argument("--force", action="store_true", help="replace the file if it exists")
    save.set_defaults(func=_failing(_backup))
    load = db.add_parser("restore", help="replace the database's contents with a backup; in-flight work resumes")
    load.add_argument("path", help="a file written by `orchestrator db backup`")
    load.add_argument("--force", action="store_true",
                      help="replace a database that is not empty (stop its API, workers and beat first)")
    load.set_defaults(func=_failing(_restore))
    db.add_parser("check", help="integrity, foreign keys, migrations at head (exit 1 if a check fails)") \
        .set_defaults(func=_check)
