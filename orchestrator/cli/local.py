"""The commands that work on this machine's database and files, not through the API: each
comes before there is an API to call, or does what no request should.

- ``db upgrade``: the schema the API needs to start.
- ``keys generate`` and ``keys rotate``: the encryption keys, which the API only reads.
- ``api-keys create`` of an install's first key: there is no key yet to call the API with.
- ``standalone``: starts the API, a worker and beat.
"""
from __future__ import annotations

import argparse
import signal
import time

from rich.console import Console

from orchestrator.cli.standalone import DEFAULT_PORT, Stack, announce
from orchestrator.config import get_settings
from orchestrator.crypto import generate_key, load_keyring
from orchestrator.db.migrate import upgrade_database
from orchestrator.db.session import transaction
from orchestrator.services import api_keys, audit, templates
from orchestrator.services.keys import rotate_keys


def _db(args: argparse.Namespace) -> int:
    upgrade_database(args.revision)
    if args.revision == "head":
        with transaction() as session:
            changed = templates.install_builtin(session)
        print(f"built-in templates: {changed} added or updated")
    print(f"database at {args.revision}")
    return 0


def first_api_key(args: argparse.Namespace) -> int:
    """``api-keys create`` with no key to call the API with: on the database directly."""
    with transaction() as session:
        key, plaintext = api_keys.create_api_key(session, args.name, args.user)
        owner = key.user.email
        audit.record(session, "api_key.create", "api_key", key.id, {"name": args.name, "user": owner})
    print(f"created API key {key.prefix}… for {owner} on the database (no API key to call the API with yet); "
          f"it is shown only this once:\n{plaintext}")
    return 0


def _keys_generate(_args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def _keys_rotate(_args: argparse.Namespace) -> int:
    keyring = load_keyring(get_settings())
    with transaction() as session:
        changed = rotate_keys(session, keyring, lambda table, n: print(f"  {table}: {n} row(s) re-encrypted"))
        audit.record(session, "keys.rotate", "encryption_key", keyring.primary_key_id, {"rows": changed})
    print(f"{changed} row(s) now under key {keyring.primary_key_id}")
    return 0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _standalone(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _interrupt)     # a process manager's stop is a Ctrl-C
    settings = get_settings()
    console = Console()
    stack = Stack(settings, host=args.host, port=args.port, worker_concurrency=args.concurrency)
    with console.status("starting the API, a worker and beat…"):
        stack.start()
    announce(settings, stack.url)           # the other commands on this data directory use it
    where = "the embedded SQLite setup" if settings.is_embedded_database else settings.database_url.split("@")[-1]
    console.print(f"Orchestrator is running on {where}")
    console.print(f"  console  {stack.url}/ui\n  API      {stack.url}/api/v1\n  docs     {stack.url}/docs\n"
                  f"  API key  {stack.api_key}")
    console.print(f"  data     {settings.data_dir}\nPress Ctrl-C to stop.")
    try:
        while all(proc.poll() is None for proc in stack.processes.values()):
            time.sleep(0.5)
        console.print("[red]a process exited; stopping[/] (logs in " f"{settings.data_dir / 'logs'})")
        return 1
    except KeyboardInterrupt:
        console.print("stopping…")
        return 0
    finally:
        announce(settings, None)
        stack.stop()


def add_commands(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="database migrations").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="apply migrations (alembic upgrade)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(func=_db)

    enc = commands.add_parser("keys", help="encryption keys").add_subparsers(dest="enc_command", required=True)
    enc.add_parser("generate", help="print a new AES-256 key").set_defaults(func=_keys_generate)
    enc.add_parser("rotate", help="re-encrypt every record with the first key").set_defaults(func=_keys_rotate)


def add_standalone(commands: argparse._SubParsersAction) -> None:
    standalone = commands.add_parser("standalone", help="API + worker + beat on this machine (embedded default)")
    standalone.add_argument("--host", default="127.0.0.1")
    standalone.add_argument("--port", type=int, default=DEFAULT_PORT)
    standalone.add_argument("--concurrency", type=int, default=2, help="worker processes")
    standalone.set_defaults(func=_standalone)
