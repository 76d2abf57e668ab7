"""Apps (seed 004 ai_app), their keys, and their licenses to workflow groups.

An app belongs to an owner and calls that owner's published workflows of the groups it is
licensed for, with keys of its own: shown once, stored as SHA-256 with a visible prefix,
compared in constant time, revocable (the rule of ``api_keys``).
"""
from __future__ import annotations

import re
import uuid
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator.db import App, AppKey, AppLicense, User
from orchestrator.services import api_keys
from orchestrator.services.errors import Conflict, NotFound, apply_changes, flush_unique, owned
from orchestrator.services.groups import get_group
from orchestrator.services.pagination import DEFAULT_LIMIT, Page, list_owned, paginate

T = TypeVar("T", AppKey, AppLicense)
APP_KEY_PREFIX = "orkapp_"
APP_PREFIX_LENGTH = 16


def alias_of(name: str) -> str:
    """A default ``alias_id``: the name in lower case, runs of other characters as ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64] or "app"


def create_app(session: Session, owner: User, name: str, alias_id: str | None = None, **fields: Any) -> App:
    app = App(id=uuid.uuid4(), owner_id=owner.id, name=name, alias_id=alias_id or alias_of(name), **fields)
    session.add(app)
    flush_unique(session, f"an app with alias_id {app.alias_id!r}")
    return app


def list_apps(session: Session, owner: User, *, status: str | None = None, cursor: str | None = None,
              limit: int = DEFAULT_LIMIT) -> Page[App]:
    return list_owned(session, App, owner, cursor, limit, status=status)


def get_app(session: Session, owner: User, app_id: uuid.UUID) -> App:
    return owned(session, App, app_id, owner, "app")


def update_app(session: Session, owner: User, app_id: uuid.UUID, **changes: Any) -> App:
    """Rename, describe, change ``alias_id`` or ``audit_policy``, or disable (its keys then
    answer 403) and enable it again."""
    app = get_app(session, owner, app_id)
    apply_changes(app, changes)
    flush_unique(session, f"an app with alias_id {app.alias_id!r}")
    return app


def delete_app(session: Session, owner: User, app_id: uuid.UUID) -> App:
    """With its keys and licenses; the executions it started stay, with their lineage."""
    app = get_app(session, owner, app_id)
    session.delete(app)
    session.flush()
    return app


# keys

def issue_key(session: Session, owner: User, app_id: uuid.UUID, name: str) -> tuple[AppKey, str]:
    """A new key for the app; the plaintext is returned only here."""
    app = get_app(session, owner, app_id)
    plaintext, prefix, key_hash = api_keys.new_key(APP_KEY_PREFIX, APP_PREFIX_LENGTH)
    key = AppKey(app_id=app.id, name=name, prefix=prefix, key_hash=key_hash)
    session.add(key)
    session.flush()
    return key, plaintext


def _page(session: Session, owner: User, app_id: uuid.UUID, model: type[T], cursor: str | None, limit: int) -> Page[T]:
    """The app's rows of ``model`` (keys, licenses), newest first."""
    app = get_app(session, owner, app_id)
    return paginate(session, select(model).where(model.app_id == app.id), model, cursor, limit)


def _one(session: Session, owner: User, app_id: uuid.UUID, model: type[T], row_id: uuid.UUID, what: str) -> T:
    """The app's ``model`` row ``row_id``; NotFound for another app's or owner's."""
    app = get_app(session, owner, app_id)
    row = session.get(model, row_id)
    if row is None or row.app_id != app.id:
        raise NotFound(f"{what} {row_id} not found")
    return row


def list_keys(session: Session, owner: User, app_id: uuid.UUID, *, cursor: str | None = None,
              limit: int = DEFAULT_LIMIT) -> Page[AppKey]:
    return _page(session, owner, app_id, AppKey, cursor, limit)


def revoke_key(session: Session, owner: User, app_id: uuid.UUID, key_id: uuid.UUID) -> AppKey:
    return api_keys.revoke(_one(session, owner, app_id, AppKey, key_id, "app key"))


def authenticate_app_key(session: Session, plaintext: str) -> AppKey | None:
    """A valid, unrevoked app key with its app and the app's owner, else None."""
    return api_keys.check_key(session, AppKey, plaintext, APP_PREFIX_LENGTH)


# licenses

def grant(session: Session, owner: User, app_id: uuid.UUID, group_id: uuid.UUID) -> AppLicense:
    """Let the app run the published workflows of one of the owner's groups."""
    app = get_app(session, owner, app_id)
    group = get_group(session, owner, group_id)
    license = AppLicense(app_id=app.id, group_id=group.id, group=group, granted_by=owner.id)
    try:
        with session.begin_nested():
            session.add(license)
    except IntegrityError:
        raise Conflict(f"app {app.alias_id!r} already holds a license for group {group.name!r}") from None
    return license


def list_licenses(session: Session, owner: User, app_id: uuid.UUID, *, cursor: str | None = None,
                  limit: int = DEFAULT_LIMIT) -> Page[AppLicense]:
    return _page(session, owner, app_id, AppLicense, cursor, limit)


def revoke_license(session: Session, owner: User, app_id: uuid.UUID, license_id: uuid.UUID) -> AppLicense:
    license = _one(session, owner, app_id, AppLicense, license_id, "app license")
    session.delete(license)
    return license
