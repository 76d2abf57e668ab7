"""The ``orchestrator`` command line (DESIGN section 7)."""
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

from orchestrator import progress
from orchestrator.client import ApiError, Client
from orchestrator.config import ConfigError, get_settings
from orchestrator.crypto import generate_key, load_keyring
from orchestrator.db.migrate import upgrade_database
from orchestrator.db.session import transaction
from orchestrator.definitions import DefinitionError, parse_definition
from orchestrator.services import api_keys, audit
from orchestrator.services.errors import DomainError
from orchestrator.services.keys import rotate_keys
from orchestrator.standalone import Stack


def _db(args: argparse.Namespace) -> int:
    upgrade_database(args.revision)
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
    console.print(f"  API      {stack.url}/api/v1\n  docs     {stack.url}/docs\n  API key  {stack.api_key}")
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
            client.decide(approval["id"], decision == "approve", {"decided_by": "orchestrator run"})
            console.print(f"  {decision}d {approval['node_id']}")
    return on_waiting


def _follow_to_end(client: Client, execution_id: str, total_nodes: int, console: Console,
                   approve: str | None = None) -> int:
    progress.follow(client, execution_id, total_nodes, console, _approver(client, console, approve, execution_id))
    execution = client.execution(execution_id)
    console.print(progress.step_table(client.steps(execution_id)))
    progress.summary(execution, console)
    return 0 if execution["status"] == "completed" else 1


def _run(args: argparse.Namespace) -> int:
    console = Console()
    text = Path(args.file).read_text()
    definition = parse_definition(text)   # a bad file fails here, before anything starts
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
        workflow_id, version = client.save_workflow(definition, text)
        execution = client.submit(workflow_id, input, version)
        console.print(f"running [bold]{definition.name}[/] v{version}: execution {execution['id']}")
        return _follow_to_end(client, execution["id"], len(definition.nodes), console, args.approve)
    finally:
        client.close()
        if stack is not None:
            stack.stop()


def _tail(args: argparse.Namespace) -> int:
    console = Console()
    client = Client(args.url, args.api_key or os.environ.get("ORCHESTRATOR_API_KEY", ""))
    total = len(client.steps(args.execution_id))
    return _follow_to_end(client, args.execution_id, total, console)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orchestrator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database migrations").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="apply migrations (alembic upgrade)")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(func=_db)

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
    standalone.add_argument("--port", type=int, default=8000)
    standalone.add_argument("--concurrency", type=int, default=2, help="worker processes")
    standalone.set_defaults(func=_standalone)

    run = commands.add_parser("run", help="run a workflow file end to end, with live progress")
    run.add_argument("file", help="workflow definition (YAML or JSON)")
    run.add_argument("--input", default="{}", help="input as JSON (default {})")
    run.add_argument("--approve", choices=["approve", "reject"],
                     help="decide every human approval this way (default: ask when interactive)")
    _remote(run, "the API of a running deployment (default: start an embedded one for this run)")
    run.set_defaults(func=_run)

    executions = commands.add_parser("executions", help="executions").add_subparsers(dest="ex_command", required=True)
    tail = executions.add_parser("tail", help="follow a running execution to its end")
    tail.add_argument("execution_id")
    _remote(tail, "the API of the deployment", required=True)
    tail.set_defaults(func=_tail)

    enc = commands.add_parser("keys", help="encryption keys").add_subparsers(dest="enc_command", required=True)
    enc.add_parser("generate", help="print a new AES-256 key").set_defaults(func=_keys_generate)
    enc.add_parser("rotate", help="re-encrypt every record with the first key").set_defaults(func=_keys_rotate)
    return parser


def _remote(parser: argparse.ArgumentParser, help: str, required: bool = False) -> None:
    parser.add_argument("--url", default=os.environ.get("ORCHESTRATOR_URL"), required=required and
                        not os.environ.get("ORCHESTRATOR_URL"), help=f"{help} (env ORCHESTRATOR_URL)")
    parser.add_argument("--api-key", help="API key (env ORCHESTRATOR_API_KEY)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=get_settings().log_level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        return args.func(args)
    except (ConfigError, DomainError, DefinitionError, ApiError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
