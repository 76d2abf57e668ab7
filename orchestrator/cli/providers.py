"""``orchestrator providers|credentials|models``: model providers of the API key's owner, through
the API. A provider is named by its name, as workflows name it (``model: NAME/MODEL_ID``)."""
from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime, timezone

from rich.table import Table

from orchestrator.cli.client import ApiError, Client, Row
from orchestrator.cli.remote import command, group, rows, said
from orchestrator.cli.tables import table
from orchestrator.services.errors import DomainError
from orchestrator.states import ProviderType

LIST_HINT = "orchestrator providers list"


def _provider(client: Client, name: str) -> Row:
    return client.named("/providers", name, "provider", LIST_HINT)


def _given(args: argparse.Namespace, *names: str) -> Row:
    """The arguments among ``names`` that were given, as a request body."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _providers_add(args: argparse.Namespace, client: Client) -> Row:
    """The provider and its default endpoint; the provider goes again when the endpoint is refused."""
    provider = client.call("POST", "/providers", json={"name": args.name, "type": args.type,
                                                       **_given(args, "description")})
    endpoint = {"name": "default", "base_url": args.base_url,
                **_given(args, "timeout_connect", "timeout_read", "retry_count", "api_version")}
    try:
        provider["endpoint"] = client.call("POST", f"/providers/{provider['id']}/endpoints", json=endpoint)
    except ApiError:
        client.call("DELETE", f"/providers/{provider['id']}")
        raise
    return provider


def _providers_list(args: argparse.Namespace, client: Client) -> Row:
    page = client.page("/providers", {}, args.limit, args.cursor)
    if not args.json:
        for p in page["items"]:
            endpoints = client.items(f"/providers/{p['id']}/endpoints")
            p["endpoint"] = next((e["base_url"] for e in endpoints if e["is_default"]), "-")
            p["models"] = ",".join(m["model_id"] for m in client.items(f"/providers/{p['id']}/models")) or "-"
            p["credentials"] = len(client.items(f"/providers/{p['id']}/credentials"))
    return page


def _provider_table(items: list[Row], width: int) -> Table:
    return table("providers", ("name", "type", "active", "models", "credentials", "endpoint"), [
        [p["name"], p["type"], "yes" if p["is_active"] else "no", p["models"], p["credentials"], p["endpoint"]]
        for p in items], width, whole=("name", "active"))


def _read_key() -> str:
    """From a prompt at a terminal, else the first line of stdin: never from the command line."""
    key = getpass.getpass("API key: ") if sys.stdin.isatty() else sys.stdin.readline()
    key = key.strip()
    if not key:
        raise DomainError("no API key given (type it at the prompt, or pipe it: `... < key.txt`)")
    return key


def _credentials_add(args: argparse.Namespace, client: Client) -> Row:
    key = _read_key()
    provider = _provider(client, args.provider)
    body = {"api_key": key, **_given(args, "alias", "quota_limit")}
    if args.expires_at:
        body["expires_at"] = args.expires_at.isoformat()
    return _for_people(args, client.call("POST", f"/providers/{provider['id']}/credentials", json=body), provider)


def _models_add(args: argparse.Namespace, client: Client) -> Row:
    provider = _provider(client, args.provider)
    body = {"model_id": args.model_id, **_given(args, "name", "input_price", "output_price", "max_output_tokens",
                                                 "context_window")}
    return _for_people(args, client.call("POST", f"/providers/{provider['id']}/models", json=body), provider)


def _for_people(args: argparse.Namespace, answer: Row, provider: Row) -> Row:
    """The API's answer; for a sentence (not --json), with the provider's name."""
    return answer if args.json else {**answer, "provider": provider["name"]}


def _moment(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e9:
        raise argparse.ArgumentTypeError(f"a price is a number of at least 0, not {text!r}")
    return value


def add_commands(commands: argparse._SubParsersAction) -> None:
    providers = group(commands, "providers", "model providers")
    command(providers, "add", "add a provider with its default endpoint", _providers_add,
            said(lambda p: f"added provider {p['name']} ({p['type']}) at {p['endpoint']['base_url']}; next: "
                           f"`orchestrator credentials add {p['name']}` and `orchestrator models add {p['name']} "
                           "MODEL_ID`"),
            (("name",), {"help": "what workflows write before the slash: model: NAME/MODEL_ID"}),
            (("--type",), {"required": True, "choices": [t for t in ProviderType.values() if t != "bedrock"],
                           "help": "anthropic, or any of the others for the OpenAI chat-completions protocol"}),
            (("--base-url",), {"required": True,
                               "help": "e.g. https://api.openai.com/v1, https://api.anthropic.com, or a local "
                                       "server such as http://127.0.0.1:11434/v1"}),
            (("--description",), {}),
            (("--api-version",), {"help": "sent as the api-version query parameter (Azure)"}),
            (("--timeout-connect",), {"type": float, "help": "seconds (default 10)"}),
            (("--timeout-read",), {"type": float, "help": "seconds (default 60)"}),
            (("--retry-count",), {"type": int, "help": "retries after 5xx and timeouts (default 3)"}))
    command(providers, "list", "list providers with their models, credentials and endpoint", _providers_list,
            rows(_provider_table), listing=True)

    credentials = group(commands, "credentials", "provider API keys")
    command(credentials, "add", "add an API key, read from a prompt or stdin (never an argument)", _credentials_add,
            said(lambda c: f"added credential {c['alias'] or c['id']} ({c['key_hint']}) to {c['provider']}"),
            (("provider",), {"help": "the provider's name"}), (("--alias",), {"help": "a name to tell keys apart"}),
            (("--quota-limit",), {"type": int, "help": "requests per day (UTC)"}),
            (("--expires-at",), {"type": _moment, "help": "ISO 8601; UTC without an offset"}))

    models = group(commands, "models", "provider models")
    command(models, "add", "add a model a provider serves, with its prices", _models_add,
            said(lambda m: f"added model {m['provider']}/{m['model_id']}; use it as "
                           f"`model: {m['provider']}/{m['model_id']}`"),
            (("provider",), {"help": "the provider's name"}),
            (("model_id",), {"help": "the provider's name for the model, e.g. gpt-4o-mini"}), (("--name",), {}),
            (("--input-price",), {"type": _price, "help": "per 1,000 prompt tokens (unknown: the cost stays null)"}),
            (("--output-price",), {"type": _price, "help": "per 1,000 completion tokens"}),
            (("--max-output-tokens",), {"type": int}), (("--context-window",), {"type": int}))
