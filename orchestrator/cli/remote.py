"""How a resource command reaches the REST API, and how its answer is shown.

The API is the one named by ``--url``/``--api-key`` (else ORCHESTRATOR_URL and
ORCHESTRATOR_API_KEY); else the ``orchestrator standalone`` of the data directory while it runs
(it says where, in the data directory), with the key it keeps there; else, on the embedded
default (SQLite), an API started on the data directory for the command and stopped after it, as
``orchestrator run`` starts one; else (a configured database) http://127.0.0.1:8000. Tables for people, ``--json``
for scripts (a list as the API pages it: ``{items, next_cursor}``).
"""
from __future__ import annotations

import argparse
import json
import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.cli.client import Client, Row
from orchestrator.cli.standalone import DEFAULT_PORT, Stack, running_standalone, saved_api_key
from orchestrator.config import get_settings
from orchestrator.services.errors import DomainError

DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
DEFAULT_LIMIT = 50

Action = Callable[[argparse.Namespace, Client], Any]
Render = Callable[[Console, Any], None]
Argument = tuple[tuple[str, ...], dict[str, Any]]


def remote_options(parser: argparse.ArgumentParser, help: str = "the API (default: the local one)") -> None:
    parser.add_argument("--url", default=os.environ.get("ORCHESTRATOR_URL"), help=f"{help} (env ORCHESTRATOR_URL)")
    parser.add_argument("--api-key", help="API key (env ORCHESTRATOR_API_KEY)")


def given_url(args: argparse.Namespace) -> str | None:
    return args.url or os.environ.get("ORCHESTRATOR_URL")


def local_key(args: argparse.Namespace) -> str | None:
    """The key for the local API: the one given, else the one the local standalone keeps (it is
    never sent to an API named by --url)."""
    return args.api_key or os.environ.get("ORCHESTRATOR_API_KEY") or saved_api_key(get_settings())


@contextmanager
def connect(args: argparse.Namespace) -> Iterator[Client]:
    """A client of the API the command talks to (see the module's docstring)."""
    url, stack = given_url(args), None
    key = args.api_key or os.environ.get("ORCHESTRATOR_API_KEY")
    if not url:
        settings = get_settings()
        url, key = running_standalone(settings), local_key(args)
        if url is None and settings.is_embedded_database:
            stack = Stack(settings, roles=("api",))
            with Console(stderr=True).status(f"no standalone runs on {settings.data_dir}: starting its API…"):
                stack.start()
            url, key = stack.url, key or stack.api_key
        url = url or DEFAULT_URL
    if not key:
        raise DomainError(f"no API key for {url}: pass --api-key or set ORCHESTRATOR_API_KEY "
                          "(make one with `orchestrator api-keys create --name NAME`)")
    client = Client(url, key)
    try:
        yield client
    finally:
        client.close()
        if stack is not None:
            stack.stop()


def _with_client(action: Action, render: Render) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        with connect(args) as client:           # shown before an API started for the command stops
            data = action(args, client)
            if args.json:
                print(json.dumps(data, indent=2))
            else:           # a sentence is never wrapped: it may hold an id or a command to copy
                render(Console(soft_wrap=True), data)
        return 0
    return command


def command(group: argparse._SubParsersAction, name: str, help: str, action: Action, render: Render,
            *arguments: Argument, listing: bool = False) -> argparse.ArgumentParser:
    """Add ``name`` to ``group``: ``action`` asks the API, ``render`` shows its answer to people.
    A ``listing`` gets --limit and --cursor, and its action answers a page."""
    parser = group.add_parser(name, help=help, description=help)
    for flags, options in arguments:
        parser.add_argument(*flags, **options)
    if listing:
        parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT,
                            help=f"at most this many (default {DEFAULT_LIMIT})")
        parser.add_argument("--cursor", help="next_cursor of a previous list: the items after it")
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer")
    remote_options(parser)
    parser.set_defaults(func=_with_client(action, render))
    return parser


def group(commands: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    return commands.add_parser(name, help=help, description=help).add_subparsers(dest=f"{name}_command",
                                                                                 required=True)


def listed(path: str, **params: str) -> Action:
    """A listing of ``path``; ``params`` maps each query parameter to the argument giving it."""
    return lambda args, client: client.page(path, {key: getattr(args, arg) for key, arg in params.items()},
                                            args.limit, args.cursor)


def rows(render: Callable[[list[Row], int], Table]) -> Render:
    """Show a page as a table (``render``: its items and the width), saying when there is more."""
    def show(console: Console, page: Row) -> None:
        console.print(render(page["items"], console.width))
        if page.get("next_cursor"):
            console.print(f"[dim]more: --cursor {escape(page['next_cursor'])}[/]")
    return show


def said(text: Callable[[Any], str]) -> Render:
    return lambda console, data: console.print(escape(text(data)))


def json_arg(text: str, flag: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DomainError(f"{flag} is not JSON: {exc}") from None
