"""``Authorization: Bearer <key>`` on everything under /api/v1 but the views marked public."""
from __future__ import annotations

from typing import Callable, TypeVar

from flask import current_app, g, request
from flask_smorest import abort

from api.context import transaction
from orchestrator.services import api_keys

API_PREFIX = "/api/v1"
SCHEME = "bearerAuth"
F = TypeVar("F", bound=Callable)


def public(view: F) -> F:
    """Let a view answer without an API key (it authorises the caller itself)."""
    view.public = True
    return view


def authenticate() -> None:
    """``before_request``: sets ``g.owner`` or answers 401."""
    if not request.path.startswith(API_PREFIX + "/") or request.endpoint is None:
        return
    if getattr(current_app.view_functions[request.endpoint], "public", False):
        return
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    owner = None
    if scheme.lower() == "bearer" and key and key.isascii() and key.isprintable():
        with transaction() as session:
            owner = api_keys.authenticate(session, key)
    if owner is None:
        abort(401, message="missing or invalid API key: send Authorization: Bearer <key>",
              headers={"WWW-Authenticate": "Bearer"})
    g.owner = owner
