"""``Authorization: Bearer <key>`` on everything under /api/v1 but the views marked public.

An app's key (``orkapp_…``) opens only the views marked ``app_only`` (under /api/v1/app), and
a user's key every view but those.

The console (``/ui``) keeps the key in an HttpOnly, SameSite=Strict cookie; its pages read
the API with it too (EventSource cannot send a header), for GET only: a request that changes
something needs the header, or goes through the console's own forms.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from flask import current_app, g, request
from flask_smorest import abort

from api.context import transaction
from api.retry import SECONDS
from orchestrator.db import ApiKey, App
from orchestrator.db.transient import run_again
from orchestrator.services import api_keys, apps, audit
from orchestrator.states import AppStatus

API_PREFIX = "/api/v1"
SCHEME = "bearerAuth"
COOKIE = "orchestrator_console"
F = TypeVar("F", bound=Callable)


def public(view: F) -> F:
    """Let a view answer without an API key (it authorises the caller itself)."""
    view.public = True  # type: ignore[attr-defined]  # a function takes attributes; authenticate() reads it
    return view


def app_only(view: F) -> F:
    """Let a view answer to an app's key only (``g.app``); a user's key is refused."""
    view.app_only = True  # type: ignore[attr-defined]  # read by authenticate(), as public
    return view


def key_of(key: str | None) -> ApiKey | None:
    """A valid API key's row (with its user), else None; run again after a transient database
    error (it only refreshes ``last_used_at``)."""
    if not key or not key.isascii() or not key.isprintable():
        return None

    def once() -> ApiKey | None:
        with transaction() as session:
            return api_keys.authenticate_key(session, key)
    return run_again(once, "authenticating a request", SECONDS)


def authenticate() -> None:
    """``before_request``: sets ``g.owner`` or answers 401, and who acts for the audit log."""
    if not request.path.startswith(API_PREFIX + "/") or request.endpoint is None:
        return
    if getattr(current_app.view_functions[request.endpoint], "public", False):
        _act(audit.Actor(None, None, request.remote_addr))
        return
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    bearer = scheme.lower() == "bearer"
    key = key.strip() if bearer else ""
    if getattr(current_app.view_functions[request.endpoint], "app_only", False):
        _authenticate_app(key)
        return
    if key.startswith(apps.APP_KEY_PREFIX):
        abort(403, message="an app key calls only /api/v1/app/...: the published workflows of the groups its app "
                           "is licensed for, and its own executions")
    if bearer:
        api_key = key_of(key)
    else:
        api_key = key_of(request.cookies.get(COOKIE)) if request.method == "GET" else None
    if api_key is None:
        abort(401, message="missing or invalid API key: send Authorization: Bearer <key>",
              headers={"WWW-Authenticate": "Bearer"})
    g.owner = api_key.user
    _act(audit.Actor(api_key.user_id, api_key.id, request.remote_addr))


def _authenticate_app(key: str) -> None:
    """Sets ``g.app`` for a valid key of an active app, or answers 401 or 403 saying why."""
    if key.startswith(api_keys.KEY_PREFIX):
        abort(403, message="this route takes an app's key (orkapp_…), not a user's: make one with "
                           "POST /api/v1/apps/{id}/keys")
    app_key = None
    if key.isascii() and key.isprintable() and key:
        with transaction() as session:
            app_key = apps.authenticate_app_key(session, key)
    if app_key is None:
        abort(401, message="missing or invalid app key: send Authorization: Bearer <app key>",
              headers={"WWW-Authenticate": "Bearer"})
    app: App = app_key.app
    if app.status != AppStatus.ACTIVE:
        abort(403, message=f"app {app.alias_id!r} is {app.status}: its owner enables it with PATCH /api/v1/apps/{{id}}")
    g.app = app
    _act(audit.Actor(app.owner_id, None, request.remote_addr, app_id=app.id))


def _act(actor: audit.Actor) -> None:
    g.audit_token = audit.begin_acting(actor)


def stop_acting(_exc: BaseException | None) -> None:
    """``teardown_request``: the request's actor leaves with it (threads serve other requests)."""
    token = g.pop("audit_token", None)
    if token is not None:
        audit.end_acting(token)
