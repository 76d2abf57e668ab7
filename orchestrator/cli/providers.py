"""``orchestrator providers|credentials|models``: configure model providers on the database
directly (as ``api-keys`` does), for the admin user unless ``--user`` names another owner."""
from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime, timezone

from orchestrator.config import get_settings
from orchestrator.crypto import load_keyring
from orchestrator.db.session import transaction
from orchestrator.services import providers
from orchestrator.services.api_keys import ADMIN_EMAIL, get_or_create_user
from orchestrator.services.errors import DomainError
from orchestrator.states import ProviderType

LIST_HINT = "see `orchestrator providers list`"


def _owner(session, args: argparse.Namespace):
    return get_or_create_user(session, args.user or ADMIN_EMAIL, is_admin=args.user is None)


def _provider(session, args: argparse.Namespace):
    try:
        return providers.provider_by_name(session, _owner(session, args), args.provider)
    except DomainError as exc:
        raise DomainError(f"{exc.message} ({LIST_HINT})") from None


def _providers_add(args: argparse.Namespace) -> int:
    with transaction() as session:
        owner = _owner(session, args)
        provider = providers.create_provider(session, owner, args.name, args.type, description=args.description)
        endpoint = providers.create_endpoint(session, get_settings(), owner, provider.id, "default", args.base_url,
                                             timeout_connect=args.timeout_connect, timeout_read=args.timeout_read,
                                             retry_count=args.retry_count, api_version=args.api_version)
        print(f"added provider {provider.name} ({provider.type}) at {endpoint.base_url}; next: "
              f"`orchestrator credentials add {provider.name}` and `orchestrator models add {provider.name} MODEL_ID`")
    return 0


def _providers_list(args: argparse.Namespace) -> int:
    with transaction() as session:
        owner = _owner(session, args)
        print(f"{'NAME':20} {'TYPE':10} {'ACTIVE':6} {'MODELS':30} {'CREDENTIALS':12} ENDPOINT")
        for p in reversed(providers.list_providers(session, owner, limit=200).items):
            endpoint = next((e.base_url for e in providers.list_endpoints(session, owner, p.id, limit=200).items
                             if e.is_default), "-")
            models = ",".join(m.model_id for m in providers.list_models(session, owner, p.id, limit=200).items) or "-"
            credentials = len(providers.list_credentials(session, owner, p.id, limit=200).items)
            print(f"{p.name[:20]:20} {p.type:10} {'yes' if p.is_active else 'no':6} {models[:30]:30} "
                  f"{credentials:<12} {endpoint}")
    return 0


def _read_key() -> str:
    """From a prompt at a terminal, else the first line of stdin: never from the command line."""
    key = getpass.getpass("API key: ") if sys.stdin.isatty() else sys.stdin.readline()
    key = key.strip()
    if not key:
        raise DomainError("no API key given (type it at the prompt, or pipe it: `... < key.txt`)")
    return key


def _credentials_add(args: argparse.Namespace) -> int:
    key = _read_key()
    with transaction() as session:
        provider = _provider(session, args)
        credential = providers.create_credential(
            session, load_keyring(get_settings()), _owner(session, args), provider.id, key, alias=args.alias,
            quota_limit=args.quota_limit, expires_at=args.expires_at)
        print(f"added credential {credential.alias or credential.id} ({credential.key_hint}) to {provider.name}")
    return 0


def _models_add(args: argparse.Namespace) -> int:
    with transaction() as session:
        provider = _provider(session, args)
        model = providers.create_model(session, _owner(session, args), provider.id, args.model_id,
                                       name=args.name or args.model_id, input_price=args.input_price,
                                       output_price=args.output_price, max_output_tokens=args.max_output_tokens,
                                       context_window=args.context_window)
        print(f"added model {provider.name}/{model.model_id}; use it as `model: {provider.name}/{model.model_id}`")
    return 0


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


def _user(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", help="the owner's email (created if new; default: the admin user)")


def add_commands(commands: argparse._SubParsersAction) -> None:
    group = commands.add_parser("providers", help="model providers").add_subparsers(dest="providers_command",
                                                                                    required=True)
    add = group.add_parser("add", help="add a provider with its default endpoint")
    add.add_argument("name", help="what workflows write before the slash: model: NAME/MODEL_ID")
    add.add_argument("--type", required=True, choices=[t for t in ProviderType.values() if t != "bedrock"],
                     help="anthropic, or any of the others for the OpenAI chat-completions protocol")
    add.add_argument("--base-url", required=True, help="e.g. https://api.openai.com/v1 or https://api.anthropic.com")
    add.add_argument("--description")
    add.add_argument("--api-version", help="sent as the api-version query parameter (Azure)")
    add.add_argument("--timeout-connect", type=float, default=10.0, help="seconds (default 10)")
    add.add_argument("--timeout-read", type=float, default=60.0, help="seconds (default 60)")
    add.add_argument("--retry-count", type=int, default=3, help="retries after 5xx and timeouts (default 3)")
    _user(add)
    add.set_defaults(func=_providers_add)
    listing = group.add_parser("list", help="list providers with their models and endpoint")
    _user(listing)
    listing.set_defaults(func=_providers_list)

    credentials = commands.add_parser("credentials", help="provider API keys").add_subparsers(
        dest="credentials_command", required=True)
    add = credentials.add_parser("add", help="add an API key, read from a prompt or stdin (never an argument)")
    add.add_argument("provider", help="the provider's name")
    add.add_argument("--alias", help="a name to tell keys apart")
    add.add_argument("--quota-limit", type=int, help="requests per day (UTC)")
    add.add_argument("--expires-at", type=_moment, help="ISO 8601; UTC without an offset")
    _user(add)
    add.set_defaults(func=_credentials_add)

    models = commands.add_parser("models", help="provider models").add_subparsers(dest="models_command",
                                                                                  required=True)
    add = models.add_parser("add", help="add a model a provider serves, with its prices")
    add.add_argument("provider", help="the provider's name")
    add.add_argument("model_id", help="the provider's name for the model, e.g. gpt-4o-mini")
    add.add_argument("--name")
    add.add_argument("--input-price", type=_price, help="per 1,000 prompt tokens (unknown: the cost stays null)")
    add.add_argument("--output-price", type=_price, help="per 1,000 completion tokens")
    add.add_argument("--max-output-tokens", type=int)
    add.add_argument("--context-window", type=int)
    _user(add)
    add.set_defaults(func=_models_add)
