"""``Authorization: Bearer <key>`` on everything under /api/v1 but the views marked public.

The console (``/ui``) keeps the key in an HttpOnly, SameSite=Strict cookie; its pages read
the API with it too (EventSource cannot send a header), for GET only: a request that changes
something needs the header, or goes through the console's own forms.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from flask import current_app, g, request
from flask_smorest import abort

from api.context import transaction
from orchestrator.db import User
from orchestrator.services import api_keys

API_PREFIX = "/api/v1"
SCHEME = "bearerAuth"
COOKIE = "orchestrator_console"
F = TypeVar("F", bound=Callable)


def public(view: F) -> F:
    """Let a view answer without an API key (it authorises the caller itself)."""
    view.public = True
    return view


def owner_of(key: str | None) -> User | None:
    """The owner of a valid API key, else None."""
    if not key or not key.isascii() or not key.isprintable():
        return None
    with transaction() as session:
        return api_keys.authenticate(session, key)


def authenticate() -> None:
    """``before_request``: sets ``g.owner`` or answers 401."""
    if not request.path.startswith(API_PREFIX + "/") or request.endpoint is None:
        return
    if getattr(current_app.view_functions[request.endpoint], "public", False):
        return
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        owner = owner_of(key.strip())
    else:
        owner = owner_of(request.cookies.get(COOKIE)) if request.method == "GET" else None
    if owner is None:
        abort(401, message="missing or invalid API key: send Authorization: Bearer <key>",
              headers={"WWW-Authenticate": "Bearer"})
    g.owner = owner
