"""An owner's model providers and, under each, its endpoints, credentials and models.
A credential's key is sealed and never read back: only ``key_hint``."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from orchestrator.config import Settings
from orchestrator.crypto import KeyRing, seal_field
from orchestrator.db import Credential, Endpoint, LLMModel, Provider, User
from orchestrator.db.types import utcnow
from orchestrator.security.network import LLM_ALLOW_PRIVATE_HINT, NetworkError, check_url
from orchestrator.services.errors import Invalid, NotFound, apply_changes, flush_unique, owned
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, list_owned, paginate
from orchestrator.states import ProviderType


# providers

def _check_type(type: str) -> None:
    if type == ProviderType.BEDROCK:
        raise Invalid("provider type bedrock is not supported yet", {"type": ["bedrock is not supported yet"]})


def create_provider(session: Session, owner: User, name: str, type: str, **fields: Any) -> Provider:
    _check_type(type)
    provider = Provider(id=uuid.uuid4(), owner_id=owner.id, name=name, type=type, **fields)
    session.add(provider)
    flush_unique(session, f"a provider named {name!r}")
    return provider


def list_providers(session: Session, owner: User, *, cursor: str | None = None, limit: int = DEFAULT_LIMIT,
                   type: str | None = None) -> Page[Provider]:
    return list_owned(session, Provider, owner, cursor, limit, type=type)


def get_provider(session: Session, owner: User, provider_id: uuid.UUID) -> Provider:
    return owned(session, Provider, provider_id, owner, "provider")


def provider_by_name(session: Session, owner: User, name: str) -> Provider:
    provider = session.scalar(select(Provider).where(Provider.owner_id == owner.id, Provider.name == name))
    if provider is None:
        raise NotFound(f"no provider named {name!r}")
    return provider


def update_provider(session: Session, owner: User, provider_id: uuid.UUID, **changes: Any) -> Provider:
    provider = get_provider(session, owner, provider_id)
    if "type" in changes:
        _check_type(changes["type"])
    apply_changes(provider, changes)
    flush_unique(session, f"a provider named {provider.name!r}")
    return provider


def delete_provider(session: Session, owner: User, provider_id: uuid.UUID) -> None:
    """With its endpoints, credentials and models (the foreign keys cascade)."""
    session.delete(get_provider(session, owner, provider_id))
    session.flush()


# what a provider holds: endpoints, credentials, models

def _owned_by_provider(session: Session, model: Any, row_id: uuid.UUID, owner: User, what: str) -> Any:
    row = session.scalar(select(model).join(Provider, Provider.id == model.provider_id)
                         .where(model.id == row_id, Provider.owner_id == owner.id))
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row


def _list_of_provider(session: Session, model: Any, owner: User, provider_id: uuid.UUID, cursor: str | None,
                      limit: int) -> Page[Any]:
    provider = get_provider(session, owner, provider_id)
    return paginate(session, select(model).where(model.provider_id == provider.id), model, cursor, limit)


def _check_base_url(settings: Settings, base_url: str) -> None:
    try:
        check_url(base_url, allow_private=settings.llm_allow_private, hint=LLM_ALLOW_PRIVATE_HINT)
    except NetworkError as exc:
        raise Invalid(f"base_url refused: {exc}", {"base_url": [str(exc)]}) from None


def _one_default(session: Session, endpoint: Endpoint) -> None:
    """A provider has at most one default endpoint: this one, when it is default."""
    if endpoint.is_default:
        session.execute(update(Endpoint).where(Endpoint.provider_id == endpoint.provider_id,
                                               Endpoint.id != endpoint.id).values(is_default=False)
                        .execution_options(synchronize_session="fetch"))


def create_endpoint(session: Session, settings: Settings, owner: User, provider_id: uuid.UUID, name: str,
                    base_url: str, **fields: Any) -> Endpoint:
    """A provider's first endpoint is its default whatever ``is_default`` says."""
    provider = get_provider(session, owner, provider_id)
    _check_base_url(settings, base_url)
    first = session.scalar(select(Endpoint.id).where(Endpoint.provider_id == provider.id).limit(1)) is None
    endpoint = Endpoint(id=uuid.uuid4(), provider_id=provider.id, name=name, base_url=base_url, **fields)
    endpoint.is_default = first or bool(fields.get("is_default"))
    session.add(endpoint)
    flush_unique(session, f"an endpoint named {name!r} for provider {provider.name!r}")
    _one_default(session, endpoint)
    return endpoint


def list_endpoints(session: Session, owner: User, provider_id: uuid.UUID, *, cursor: str | None = None,
                   limit: int = DEFAULT_LIMIT) -> Page[Endpoint]:
    return _list_of_provider(session, Endpoint, owner, provider_id, cursor, limit)


def get_endpoint(session: Session, owner: User, endpoint_id: uuid.UUID) -> Endpoint:
    return _owned_by_provider(session, Endpoint, endpoint_id, owner, "endpoint")


def update_endpoint(session: Session, settings: Settings, owner: User, endpoint_id: uuid.UUID,
                    **changes: Any) -> Endpoint:
    endpoint = get_endpoint(session, owner, endpoint_id)
    if "base_url" in changes:
        _check_base_url(settings, changes["base_url"])
    apply_changes(endpoint, changes)
    flush_unique(session, f"an endpoint named {endpoint.name!r}")
    _one_default(session, endpoint)
    return endpoint


def delete_endpoint(session: Session, owner: User, endpoint_id: uuid.UUID) -> None:
    session.delete(get_endpoint(session, owner, endpoint_id))
    session.flush()


def key_hint(api_key: str) -> str:
    return "..." + api_key[-4:]


def _seal_keys(keyring: KeyRing, credential: Credential, api_key: str | None, secret_key: str | None) -> None:
    if api_key is not None:
        seal_field(keyring, credential, "api_key", api_key.encode())
        credential.key_hint = key_hint(api_key)
    if secret_key is not None:
        seal_field(keyring, credential, "secret_key", secret_key.encode())


def create_credential(session: Session, keyring: KeyRing, owner: User, provider_id: uuid.UUID, api_key: str, *,
                      secret_key: str | None = None, **fields: Any) -> Credential:
    provider = get_provider(session, owner, provider_id)
    credential = Credential(id=uuid.uuid4(), provider_id=provider.id, **fields)
    _seal_keys(keyring, credential, api_key, secret_key)
    session.add(credential)
    flush_unique(session, f"a credential with alias {fields.get('alias')!r} for provider {provider.name!r}")
    return credential


def list_credentials(session: Session, owner: User, provider_id: uuid.UUID, *, cursor: str | None = None,
                     limit: int = DEFAULT_LIMIT) -> Page[Credential]:
    return _list_of_provider(session, Credential, owner, provider_id, cursor, limit)


def get_credential(session: Session, owner: User, credential_id: uuid.UUID) -> Credential:
    return _owned_by_provider(session, Credential, credential_id, owner, "credential")


def update_credential(session: Session, keyring: KeyRing, owner: User, credential_id: uuid.UUID, *,
                      api_key: str | None = None, secret_key: str | None = None, **changes: Any) -> Credential:
    credential = get_credential(session, owner, credential_id)
    if (api_key is None) != (secret_key is None) and credential.secret_key_encrypted is not None:
        raise Invalid("give api_key and secret_key together: both are sealed under one key id",
                      {"secret_key" if api_key is not None else "api_key": ["required with the other key"]})
    _seal_keys(keyring, credential, api_key, secret_key)
    apply_changes(credential, changes)
    flush_unique(session, f"a credential with alias {credential.alias!r}")
    return credential


def delete_credential(session: Session, owner: User, credential_id: uuid.UUID) -> None:
    session.delete(get_credential(session, owner, credential_id))
    session.flush()


def quota_used_today(credential: Credential) -> int:
    """Requests counted today (UTC); the counter of an earlier day no longer counts."""
    return credential.quota_used if credential.quota_day == utcnow().date() else 0


def create_model(session: Session, owner: User, provider_id: uuid.UUID, model_id: str, **fields: Any) -> LLMModel:
    provider = get_provider(session, owner, provider_id)
    model = LLMModel(id=uuid.uuid4(), provider_id=provider.id, model_id=model_id,
                     **{"name": model_id, "capabilities": {}, **fields})
    session.add(model)
    flush_unique(session, f"a model {model_id!r} for provider {provider.name!r}")
    return model


def list_models(session: Session, owner: User, provider_id: uuid.UUID, *, cursor: str | None = None,
                limit: int = DEFAULT_LIMIT) -> Page[LLMModel]:
    return _list_of_provider(session, LLMModel, owner, provider_id, cursor, limit)


def get_model(session: Session, owner: User, row_id: uuid.UUID) -> LLMModel:
    """By the row's id (``model_id`` is the provider's name for the model)."""
    return _owned_by_provider(session, LLMModel, row_id, owner, "model")


def update_model(session: Session, owner: User, row_id: uuid.UUID, **changes: Any) -> LLMModel:
    model = get_model(session, owner, row_id)
    apply_changes(model, changes)
    flush_unique(session, f"a model {model.model_id!r}")
    return model


def delete_model(session: Session, owner: User, row_id: uuid.UUID) -> None:
    session.delete(get_model(session, owner, row_id))
    session.flush()
