"""``orchestrator api-keys|secrets``: who may call the API, and what workflows may read.

``api-keys create`` with no API key to call the API with (none passed, in the environment, or
kept by a local standalone) makes the install's first key on the database directly."""
from __future__ import annotations

import argparse
import getpass
import sys
from typing import Callable

from rich.console import Console
from rich.table import Table

from orchestrator.cli import local
from orchestrator.cli.client import ApiError, Client, Row, is_id
from orchestrator.cli.remote import command, given_url, group, listed, local_key, rows, said
from orchestrator.cli.tables import table, when


# api-keys

def _created(key: Row) -> str:
    return f"created API key {key['prefix']}… for {key['user_email']}; it is shown only this once:\n{key['key']}"


def _create(args: argparse.Namespace, client: Client) -> Row:
    body = {"name": args.name}
    if args.user:
        body["user_email"] = args.user
    return client.call("POST", "/api-keys", json=body)


def _key_rows(items: list[Row], width: int) -> Table:
    return table("API keys", ("prefix", "name", "status", "user", "created", "last used"), [
        [k["prefix"], k["name"], f"revoked {when(k['revoked_at'])}" if k["revoked_at"] else "active",
         k["user_email"], when(k["created_at"]), when(k["last_used_at"])] for k in items], width,
        whole=("prefix", "status"))


def _revoke(args: argparse.Namespace, client: Client) -> Row:
    """By id, or by the prefix shown in lists: among the caller's keys, then (an admin) anyone's."""
    if is_id(args.key):
        return client.call("DELETE", f"/api-keys/{args.key}")
    for scope in ({}, {"all": "true"}):
        try:
            found = [k for k in client.items("/api-keys", scope) if k["prefix"] == args.key[:len(k["prefix"])]]
        except ApiError as exc:
            if exc.status != 403:
                raise
            break
        if found:
            return client.call("DELETE", f"/api-keys/{found[0]['id']}")
    raise ApiError(f"no API key with prefix {args.key!r} (see `orchestrator api-keys list`)", 404)


def _create_command(remote: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Through the API when there is a key to call it with; else the first key, on the database."""
    def create(args: argparse.Namespace) -> int:
        if given_url(args) or local_key(args):
            return remote(args)
        return local.first_api_key(args)
    return create


# secrets

def _secret_value(args: argparse.Namespace) -> str:
    if args.value is not None:
        return args.value
    if sys.stdin.isatty():
        return getpass.getpass(f"value of {args.name}: ")
    return sys.stdin.read().rstrip("\n")


def _secret_set(args: argparse.Namespace, client: Client) -> Row:
    return client.call("POST", "/secrets", json={"name": args.name, "value": _secret_value(args)})


def _secret_rows(items: list[Row], width: int) -> Table:
    return table("secrets", ("name", "created", "updated"),
                 [[s["name"], when(s["created_at"]), when(s["updated_at"])] for s in items], width, whole=("name",))


def _print_key(console: Console, key: Row) -> None:
    print(_created(key))        # plain: the key must come out whole, never wrapped


def add_commands(commands: argparse._SubParsersAction) -> None:
    keys = group(commands, "api-keys", "API keys")
    create = command(keys, "create", "make a key (printed once); the first of an install on the database directly",
                     _create, _print_key, (("--name",), {"required": True}),
                     (("--user",), {"help": "an admin makes it for this user (created if new); default: yourself"}))
    create.set_defaults(func=_create_command(create.get_default("func")))
    command(keys, "list", "list your keys (an admin: --all for everyone's)",
            listed("/api-keys", all="all"), rows(_key_rows),
            (("--all",), {"action": "store_const", "const": "true", "help": "every user's keys (admins)"}),
            listing=True)
    command(keys, "revoke", "revoke a key: later requests with it answer 401", _revoke,
            said(lambda k: f"revoked API key {k['prefix']}"), (("key",), {"help": "its prefix (ork_…) or id"}))

    secrets = group(commands, "secrets", "secrets that templates read as {{ secrets.NAME }}")
    command(secrets, "set", "create or replace a secret (value from --value, else asked or read from stdin)",
            _secret_set, said(lambda s: f"secret {s['name']} saved"), (("name",), {}),
            (("--value",), {"help": "the value (visible in your shell history: prefer stdin)"}))
    command(secrets, "list", "list secret names (values are never shown)", listed("/secrets"), rows(_secret_rows),
            listing=True)
    command(secrets, "delete", "delete a secret",
            lambda a, c: c.call("DELETE", f"/secrets/{a.name}") or {"name": a.name, "deleted": True},
            said(lambda s: f"secret {s['name']} deleted"), (("name",), {}))
