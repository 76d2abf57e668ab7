"""orchestrator: run workflows, the API, workers and beat, and manage what they hold."""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.prompt import Confirm
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from orchestrator import progress
from orchestrator.client import ApiError, Client
from orchestrator.commands import add_resource_commands, connect
from orchestrator.cli_db import add_db_commands
from orchestrator.cli_providers import add_commands as add_provider_commands
from orchestrator.config import ConfigError, get_settings
from orchestrator.crypto import generate_key, load_keyring
from orchestrator.db.migrate import upgrade_database
from orchestrator.db.session import transaction
from orchestrator.definitions import DefinitionError, parse_definition
from orchestrator.services import api_keys, audit, templates
from orchestrator.services.errors import DomainError
from orchestrator.services.keys import rotate_keys
from orchestrator.standalone import DEFAULT_PORT, Stack, StartError

INTERRUPTED = 130       # the shell's code for a process ended by Ctrl-C


def _db(args: argparse.Namespace) -> int:
    upgrade_database(args.revision)
    if args.revision == "head":
        with transaction() as session:
            changed = templates.install_builtin(session)
        print(f"built-in templates: {changed} added or updated")
    print(f"database at {args.revision}")
    return 0


def _api_keys_create(args: argparse.Namespace) -> int:
    with transaction() as session:
        key, plaintext = api_keys.create_api_key(session, args.name, args.user)
        owner = key.user.email
        audit.record(session, "api_key.create", "api_key", key.id, {"name": args.name, "user": owner})
    print(f"created API key {key.prefix}… for {owner}; it is shown only this once:\n{plaintext}")
    return 0


def _api_keys_list(_args: argparse.Namespace) -> int:
    with transaction() as session:
        rows = api_keys.list_api_keys(session)
        print(f"{'PREFIX':14} {'NAME':20} {'USER':28} {'CREATED':20} STATUS")
        for key in rows:
            status = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            print(f"{key.prefix:14} {key.name[:20]:20} {key.user.email[:28]:28} {key.created_at:%Y-%m-%d %H:%M:%S}  {status}")
    return 0


def _api_keys_revoke(args: argparse.Namespace) -> int:
    with transaction() as session:
        key = api_keys.revoke_api_key(session, args.prefix)
        audit.record(session, "api_key.revoke", "api_key", key.id)
    print(f"revoked API key {key.prefix}")
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
    console.print(f"Orchestrator is running on {'the embedded SQLite setup' if settings.is_embedded_database else settings.database_url.split('@')[-1]}")
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
        stack.stop()


def _approver(client: Client, console: Console, policy: str | None, execution_id: str):
    """What to do when a step waits for a human: approve, reject, or ask at the terminal."""
    def on_waiting(event: dict) -> None:
        pending = [a for a in client.approvals() if a["execution_id"] == execution_id
                   and a["node_id"] == event["node_id"]]
        for approval in pending:
            decision = policy
            if decision is None and sys.stdin.isatty():
                decision = "approve" if Confirm.ask(f"approve {approval['node_id']}?", console=console) else "reject"
            if decision is None:
                console.print(f"  approve with: curl -X POST -H 'Authorization: Bearer …' "
                              f"{client.url}/api/v1/approvals/{approval['id']}/approve")
                continue
            decided = client.decide(approval["id"], decision == "approve", {"decided_by": "orchestrator run"})
            console.print(f"  {decided['status']} {approval['node_id']}")
    return on_waiting


def _follow_to_end(client: Client, execution_id: str, total_nodes: int, console: Console,
                   approve: str | None = None) -> int:
    progress.follow(client, execution_id, total_nodes, console, _approver(client, console, approve, execution_id))
    execution = client.execution(execution_id)
    steps = client.steps(execution_id)
    console.print(progress.step_table(steps, console.width))
    progress.step_errors(steps, console)
    progress.summary(execution, console, steps)
    return 0 if execution["status"] == "completed" else 1


def _run(args: argparse.Namespace) -> int:
    console = Console()
    text = Path(args.file).read_text()
    definition = parse_definition(text)   # a bad file fails here, before anything starts
    for path in args.with_:
        parse_definition(Path(path).read_text())
    try:
        input = json.loads(args.input)
    except json.JSONDecodeError as exc:
        raise DomainError(f"--input is not JSON: {exc}") from None
    stack = None
    if args.url:
        client = Client(args.url, args.api_key or os.environ.get("ORCHESTRATOR_API_KEY", ""))
    else:
        stack = Stack(get_settings())
        with console.status("starting the embedded API, worker and beat…"):
            stack.start()
        client = Client(stack.url, stack.api_key)
    try:
        for path in args.with_:        # workflows that its subworkflow nodes call, by name
            other = Path(path).read_text()
            client.save_workflow(parse_definition(other), other)
        workflow_id, version = client.save_workflow(definition, text)
        execution = client.submit(workflow_id, input, version)
        console.print(f"running [bold]{definition.name}[/] v{version}: execution {execution['id']}")
        try:
            return _follow_to_end(client, execution["id"], len(definition.nodes), console, args.approve)
        except KeyboardInterrupt:
            return _cancel(client, execution["id"], console)
    finally:
        client.close()
        if stack is not None:
            stack.stop()


def _cancel(client: Client, execution_id: str, console: Console) -> int:
    """After a Ctrl-C: ask the server to cancel the execution (another Ctrl-C leaves at once)."""
    console.print(f"interrupted: cancelling execution {execution_id} (Ctrl-C again to leave now)")
    try:
        status = client.call("POST", f"/executions/{execution_id}/cancel")["status"]
        console.print(f"execution {execution_id}: {status}")
    except ApiError as exc:
        console.print(f"[red]error:[/] {exc}")
    return INTERRUPTED


def _tail(args: argparse.Namespace) -> int:
    console = Console()
    client = connect(args)
    try:
        total = len(client.steps(args.execution_id))
        return _follow_to_end(client, args.execution_id, total, console)
    finally:
        client.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database migrations").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="apply migrations (alembic upgrade)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(func=_db)
    add_db_commands(db)

    keys = commands.add_parser("api-keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key (printed once)")
    create.add_argument("--name", required=True)
    create.add_argument("--user", help="owner's email (created if new; default: the admin user)")
    create.set_defaults(func=_api_keys_create)
    keys.add_parser("list", help="list keys").set_defaults(func=_api_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix")
    revoke.set_defaults(func=_api_keys_revoke)

    standalone = commands.add_parser("standalone", help="API + worker + beat on this machine (embedded default)")
    standalone.add_argument("--host", default="127.0.0.1")
    standalone.add_argument("--port", type=int, default=DEFAULT_PORT)
    standalone.add_argument("--concurrency", type=int, default=2, help="worker processes")
    standalone.set_defaults(func=_standalone)

    run = commands.add_parser("run", help="run a workflow file end to end, with live progress")
    run.add_argument("file", help="workflow definition (YAML or JSON)")
    run.add_argument("--input", default="{}", help="input as JSON (default {})")
    run.add_argument("--with", dest="with_", action="append", default=[], metavar="FILE",
                     help="another workflow to save first, for the file's subworkflow nodes (repeatable)")
    run.add_argument("--approve", choices=["approve", "reject"],
                     help="decide every human approval this way (default: ask when interactive)")
    _remote(run, "the API of a running deployment (default: start an embedded one for this run)")
    run.set_defaults(func=_run)

    executions = add_resource_commands(commands, _remote)
    tail = executions.add_parser("tail", help="follow a running execution to its end")
    tail.add_argument("execution_id")
    _remote(tail, "the API (default: the local `orchestrator standalone`)")
    tail.set_defaults(func=_tail)

    enc = commands.add_parser("keys", help="encryption keys").add_subparsers(dest="enc_command", required=True)
    enc.add_parser("generate", help="print a new AES-256 key").set_defaults(func=_keys_generate)
    enc.add_parser("rotate", help="re-encrypt every record with the first key").set_defaults(func=_keys_rotate)

    add_provider_commands(commands)
    return parser


def _remote(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--url", default=os.environ.get("ORCHESTRATOR_URL"), help=f"{help} (env ORCHESTRATOR_URL)")
    parser.add_argument("--api-key", help="API key (env ORCHESTRATOR_API_KEY)")


def _database_error(exc: SQLAlchemyError) -> str:
    """One line on what is wrong with the database, and what to do."""
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return f"the database has no tables yet ({text}); run `orchestrator db upgrade`"
    where = make_url(get_settings().database_url).render_as_string(hide_password=True)
    return (f"cannot use the database {where}: {text}; check DATABASE_URL, and create the database if it "
            "does not exist (for PostgreSQL: createdb NAME), then run `orchestrator db upgrade`")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        logging.basicConfig(level=get_settings().log_level, format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
        return args.func(args)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:             # the reader (`| head`) has gone: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except SQLAlchemyError as exc:
        message = _database_error(exc)
    except (ConfigError, DomainError, DefinitionError, ApiError, StartError, OSError) as exc:
        message = str(exc)
    print(f"error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
