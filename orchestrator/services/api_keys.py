"""Users and API keys: shown once, stored as SHA-256 with a visible prefix, revocable.

``new_key``, ``check_key`` and ``revoke`` are the rule for every kind of key (apps' keys too)."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from orchestrator.db import ApiKey, Base, User
from orchestrator.db.accounts import HashedKey
from orchestrator.db.types import utcnow
from orchestrator.services.errors import Forbidden, Invalid, NotFound
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, paginate

KEY_PREFIX = "ork_"
PREFIX_LENGTH = 12
ADMIN_EMAIL = "admin@localhost"
LAST_USED_RESOLUTION = timedelta(minutes=1)
K = TypeVar("K", bound=HashedKey)
R = TypeVar("R", bound=Base)


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def new_key(key_prefix: str, prefix_length: int) -> tuple[str, str, str]:
    """A new random key starting with ``key_prefix``: (plaintext, visible prefix, hash)."""
    plaintext = key_prefix + secrets.token_urlsafe(32)
    return plaintext, plaintext[:prefix_length], hash_key(plaintext)


def check_key(session: Session, model: type[K], plaintext: str, prefix_length: int, *options: Any) -> K | None:
    """The unrevoked ``model`` row (ApiKey, AppKey) whose key is ``plaintext``, compared in
    constant time, else None. ``last_used_at`` is refreshed at most once a minute, so a busy key
    does not cost a write per request."""
    key = session.scalar(select(model).where(model.prefix == plaintext[:prefix_length], model.revoked_at.is_(None))
                         .options(*options))
    if key is None or not hmac.compare_digest(key.key_hash, hash_key(plaintext)):
        return None
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        key.last_used_at = now
    return key


def revoke(key: K) -> K:
    """Revoked from now on (a second revocation keeps the first time)."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def _insert_or_get(session: Session, row: R, existing: Select[R]) -> R:
    """Insert ``row``, or, when a concurrent transaction inserted its unique twin first, that
    twin: processes starting together (gunicorn workers with ORCHESTRATOR_BOOTSTRAP_API_KEY)
    all succeed. The insert runs in a savepoint so the caller's transaction survives it."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        twin = session.scalar(existing)
        if twin is None:
            raise
        return twin
    return row


def get_or_create_user(session: Session, email: str, *, is_admin: bool = False) -> User:
    query = select(User).where(User.email == email)
    return session.scalar(query) or _insert_or_get(session, User(email=email, is_admin=is_admin), query)


def issue_api_key(session: Session, owner: User, name: str, user_email: str | None = None) -> tuple[ApiKey, str]:
    """A new key for ``owner``, or, when an admin asks, for ``user_email`` (created if new).
    Returns the plaintext once."""
    user = owner
    if user_email is not None and user_email != owner.email:
        if not owner.is_admin:
            raise Forbidden("only an admin makes keys for other users")
        user = get_or_create_user(session, user_email)
    plaintext, prefix, key_hash = new_key(KEY_PREFIX, PREFIX_LENGTH)
    key = ApiKey(user_id=user.id, name=name, prefix=prefix, key_hash=key_hash)
    session.add(key)
    session.flush()
    session.refresh(key, ["user"])          # for the answer, written after the session ends
    return key, plaintext


def create_api_key(session: Session, name: str, user_email: str | None = None) -> tuple[ApiKey, str]:
    """A new key for ``user_email`` (created if new; default the admin). Returns the plaintext once."""
    return issue_api_key(session, get_or_create_user(session, user_email or ADMIN_EMAIL, is_admin=user_email is None),
                         name)


def ensure_api_key(session: Session, plaintext: str, name: str = "bootstrap") -> ApiKey:
    """Make sure ``plaintext`` is a valid admin key (ORCHESTRATOR_BOOTSTRAP_API_KEY); safe when
    several processes do it at once."""
    if len(plaintext) < 20:
        raise Invalid("ORCHESTRATOR_BOOTSTRAP_API_KEY must be at least 20 characters")
    query = select(ApiKey).where(ApiKey.prefix == plaintext[:PREFIX_LENGTH])
    key = session.scalar(query)
    if key is None:
        admin = get_or_create_user(session, ADMIN_EMAIL, is_admin=True)
        key = _insert_or_get(session, ApiKey(user_id=admin.id, name=name, prefix=plaintext[:PREFIX_LENGTH],
                                             key_hash=hash_key(plaintext)), query)
    if not hmac.compare_digest(key.key_hash, hash_key(plaintext)):
        raise Invalid("ORCHESTRATOR_BOOTSTRAP_API_KEY shares its prefix with another key; choose another key")
    key.revoked_at = None
    return key


def authenticate(session: Session, plaintext: str) -> User | None:
    """The owner of a valid, unrevoked key (see ``authenticate_key``)."""
    key = authenticate_key(session, plaintext)
    return key.user if key else None


def authenticate_key(session: Session, plaintext: str) -> ApiKey | None:
    """A valid, unrevoked key (see ``check_key``), with its user: the caller reads it after
    the session closes."""
    return check_key(session, ApiKey, plaintext, PREFIX_LENGTH, joinedload(ApiKey.user))


def list_owner_api_keys(session: Session, owner: User, *, every: bool = False, cursor: str | None = None,
                        limit: int = DEFAULT_LIMIT) -> Page[ApiKey]:
    """``owner``'s keys, revoked ones included, newest first; ``every`` user's for an admin."""
    query = select(ApiKey).options(joinedload(ApiKey.user))
    if every and not owner.is_admin:
        raise Forbidden("only an admin lists every user's keys")
    return paginate(session, query if every else query.where(ApiKey.user_id == owner.id), ApiKey, cursor, limit)


def revoke_api_key(session: Session, prefix: str) -> ApiKey:
    """Revoke any owner's key by its prefix."""
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix[:PREFIX_LENGTH]))
    if key is None:
        raise NotFound(f"no API key with prefix {prefix!r}")
    return revoke(key)


def revoke_owner_api_key(session: Session, owner: User, key_id: uuid.UUID) -> ApiKey:
    """Revoke one of ``owner``'s keys (the one in use too), or an admin any key; another
    owner's key is NotFound."""
    key = session.get(ApiKey, key_id, options=[joinedload(ApiKey.user)])
    if key is None or (key.user_id != owner.id and not owner.is_admin):
        raise NotFound(f"API key {key_id} not found")
    return revoke(key)
