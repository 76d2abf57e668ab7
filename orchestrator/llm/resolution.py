"""From ``<provider name>/<model_id>`` to what a call needs:

the owner's active provider by name -> its model, if ``available`` -> its default active
endpoint -> an active, unexpired credential with quota left today and not cooling down, the
least recently used first. Whatever is missing is named in ``Unusable``.

A credential's daily quota is reserved with one conditional UPDATE, so two workers never
both take its last request.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, or_, select, true, update
from sqlalchemy.orm import Session

from orchestrator.crypto import KeyRing, open_field
from orchestrator.db import Credential, Endpoint, LLMModel, Provider
from orchestrator.states import ModelStatus, ProviderType


class Unusable(Exception):
    """No usable model, endpoint or credential; the message names what is missing."""


@dataclass(frozen=True)
class Target:
    """A resolved model: where to call it and what it costs."""

    provider_id: uuid.UUID
    provider: str
    type: str                       # the provider's type (see ProviderType)
    model_id: str
    input_price: Decimal | None
    output_price: Decimal | None
    max_output_tokens: int | None
    base_url: str
    api_version: str | None
    timeout_connect: float
    timeout_read: float
    retry_count: int

    @property
    def protocol(self) -> str:
        """``anthropic``, or ``openai`` (chat completions) for every other type."""
        return "anthropic" if self.type == ProviderType.ANTHROPIC else "openai"

    @property
    def ref(self) -> str:
        return f"{self.provider}/{self.model_id}"


@dataclass(frozen=True)
class Lease:
    """A credential reserved for one request."""

    id: uuid.UUID
    alias: str | None
    api_key: str


def split_ref(ref: str) -> tuple[str, str]:
    provider, sep, model_id = ref.partition("/")
    if not sep or not provider or not model_id:
        raise Unusable(f"model {ref!r} must be written <provider name>/<model_id>")
    return provider, model_id


def resolve(session: Session, owner_id: uuid.UUID, ref: str) -> Target:
    provider_name, model_id = split_ref(ref)
    provider = session.scalar(select(Provider).where(Provider.owner_id == owner_id, Provider.name == provider_name))
    if provider is None:
        raise Unusable(f"no provider named {provider_name!r}")
    if not provider.is_active:
        raise Unusable(f"provider {provider_name!r} is not active")
    if provider.type == ProviderType.BEDROCK:
        raise Unusable(f"provider {provider_name!r} is of type bedrock, which is not supported yet")
    model = session.scalar(select(LLMModel).where(LLMModel.provider_id == provider.id, LLMModel.model_id == model_id))
    if model is None:
        raise Unusable(f"provider {provider_name!r} has no model {model_id!r}")
    if model.status != ModelStatus.AVAILABLE:
        raise Unusable(f"model {ref!r} is {model.status}, not available")
    endpoint = session.scalar(select(Endpoint).where(Endpoint.provider_id == provider.id, Endpoint.is_default,
                                                     Endpoint.is_active))
    if endpoint is None:
        raise Unusable(f"provider {provider_name!r} has no active default endpoint")
    return Target(provider.id, provider.name, provider.type, model.model_id,
                  model.input_price, model.output_price, model.max_output_tokens, endpoint.base_url,
                  endpoint.api_version, endpoint.timeout_connect, endpoint.timeout_read, endpoint.retry_count)


def _usable(now: datetime):
    today = now.date()
    return and_(
        Credential.is_active,
        or_(Credential.expires_at.is_(None), Credential.expires_at > now),
        or_(Credential.cooldown_until.is_(None), Credential.cooldown_until <= now),
        or_(Credential.quota_limit.is_(None), Credential.quota_day.is_(None), Credential.quota_day != today,
            Credential.quota_used < Credential.quota_limit),
    )


def reserve_credential(session: Session, keyring: KeyRing, target: Target, now: datetime,
                       exclude: frozenset[uuid.UUID] = frozenset()) -> Lease:
    """Take one request of the least recently used usable credential (in ``session``'s
    transaction: commit it before calling out)."""
    candidates = session.scalars(
        select(Credential).where(Credential.provider_id == target.provider_id, _usable(now),
                                 Credential.id.not_in(exclude) if exclude else true())
        .order_by(Credential.last_used_at.is_not(None), Credential.last_used_at, Credential.created_at)
    ).all()
    today = now.date()
    for credential in candidates:
        taken = session.execute(
            update(Credential).where(Credential.id == credential.id, _usable(now))
            .values(quota_used=case((Credential.quota_day == today, Credential.quota_used + 1), else_=1),
                    quota_day=today, last_used_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken:
            return Lease(credential.id, credential.alias, open_field(keyring, credential, "api_key").decode())
    raise Unusable(_why_no_credential(session, target, now, exclude))


def _why_no_credential(session: Session, target: Target, now: datetime, exclude: frozenset[uuid.UUID]) -> str:
    credentials = session.scalars(select(Credential).where(Credential.provider_id == target.provider_id)).all()
    if not credentials:
        return f"provider {target.provider!r} has no credential"
    today, reasons = now.date(), []
    for c in credentials:
        name = repr(c.alias) if c.alias else str(c.id)
        if c.id in exclude:
            reasons.append(f"{name} was refused in this call")
        elif not c.is_active:
            reasons.append(f"{name} is not active")
        elif c.expires_at is not None and c.expires_at <= now:
            reasons.append(f"{name} expired at {c.expires_at:%Y-%m-%d %H:%M} UTC")
        elif c.cooldown_until is not None and c.cooldown_until > now:
            reasons.append(f"{name} is cooling down until {c.cooldown_until:%H:%M:%S} UTC")
        elif c.quota_limit is not None and c.quota_day == today and c.quota_used >= c.quota_limit:
            reasons.append(f"{name} used its daily quota of {c.quota_limit} requests")
        else:
            reasons.append(f"{name} was taken by another call")
    return f"provider {target.provider!r} has no usable credential: {'; '.join(reasons)}"


def cool_down(session: Session, credential_id: uuid.UUID, until: datetime) -> None:
    """Leave a credential aside until ``until`` (never shortening a longer cooldown)."""
    session.execute(update(Credential).where(
        Credential.id == credential_id, or_(Credential.cooldown_until.is_(None), Credential.cooldown_until < until))
        .values(cooldown_until=until).execution_options(synchronize_session=False))


def next_cooldown_end(session: Session, provider_id: uuid.UUID, now: datetime) -> datetime | None:
    """When the first cooling credential of the provider is usable again, if any cools down."""
    return session.scalar(select(Credential.cooldown_until).where(
        Credential.provider_id == provider_id, Credential.is_active, Credential.cooldown_until > now)
        .order_by(Credential.cooldown_until).limit(1))
