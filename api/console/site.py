"""The console's blueprint and what every page shares: sign-in, same-origin posts, the HTML
answers to errors (also for a /ui path that names nothing), and small helpers of the views.

A login form takes an API key and keeps it in an HttpOnly, SameSite=Strict cookie; every page
authenticates it as the API does. Forms that change something post to the console itself and
must come from the same origin."""
from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from api.auth import COOKIE, key_of
from api.errors import DOMAIN
from orchestrator.db import Workflow
from orchestrator.engine import NotAllowed, Unknown
from orchestrator.services.errors import DomainError

blp = Blueprint("console", __name__, url_prefix="/ui", template_folder="templates", static_folder="static")
PAGE = 50
# Pages anyone may see: the sign-in form, the static files, and "no such page".
PUBLIC = ("console.login", "console.static", "console.missing")


@blp.before_request
def _signed_in() -> ResponseReturnValue | None:
    if request.endpoint == "console.static":
        return None
    if request.method == "POST" and not _same_origin():
        abort(403)
    found = key_of(request.cookies.get(COOKIE))
    if found is not None:
        g.owner = found.user
    elif request.endpoint not in PUBLIC:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    return None


def _same_origin() -> bool:
    """A form post from this site (browsers send Origin on POST; Referer as a fallback)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    return bool(source) and urlsplit(source).netloc == request.host


def safe_next(target: str | None) -> str:
    """Only a path inside the console: never another site."""
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return url_for("console.executions_page")


@blp.route("/<path:anything>", methods=["GET", "POST"])
def missing(anything: str):
    """A /ui path that names no page: the console's own 404, not the API's JSON."""
    abort(404)


@blp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    if exc.code == 404:
        return render_template("console/message.html", title="Page not found", back=url_for("console.home"),
                               message=f"There is no page at {request.path} in the console.", back_label="Go to the executions"), 404
    return back(_came_from(), exc.description or exc.name, exc.code or 500)


@blp.errorhandler(DomainError)
@blp.errorhandler(Unknown)
@blp.errorhandler(NotAllowed)
def _domain_error(exc: Exception) -> tuple[str, int]:
    """What the services refuse, with the status the API would answer, and a way back."""
    code = next(DOMAIN[cls][0] for cls in type(exc).__mro__ if cls in DOMAIN)
    return back(url_for("console.home") if code == 404 else _came_from(), str(exc), code)


def _came_from() -> str:
    """The console page that sent the request (a form's), else the first page."""
    source = urlsplit(request.referrer or "")
    return safe_next(source.path if source.netloc == request.host else None)


def back(target: str, message: str, status: int) -> tuple[str, int]:
    title = {404: "Not found", 422: "Not valid"}.get(status)
    return render_template("console/message.html", title=title, message=message, back=target), status


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def uuid_or_none(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


def day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def names(session: Session, workflow_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The names of the workflows of the owner's executions or schedules (a licensed one too)."""
    return dict(session.execute(select(Workflow.id, Workflow.name).where(Workflow.id.in_(workflow_ids))).all()) \
        if workflow_ids else {}
