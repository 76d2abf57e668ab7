"""One place that turns errors into HTTP answers.

Every error is ``{"code", "status", "message", "errors"}``: domain errors, flask-smorest's
and webargs' own (422, 400 for a malformed body), routing (404, 405), the body limit (413),
a database that is away (503), and anything unexpected (500, logged, without a traceback).
"""
from __future__ import annotations

import logging
from typing import Any

import flask_smorest
from flask import Flask, current_app
from flask_smorest.error_handler import ErrorSchema as SmorestErrorSchema
from marshmallow import fields
from sqlalchemy.exc import DataError
from sqlalchemy.exc import OperationalError as DatabaseUnavailable
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from orchestrator.engine import NotAllowed, Unknown
from orchestrator.services.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthorized

log = logging.getLogger(__name__)

# Domain errors by class, with their HTTP status and, for the database's, a message of our own.
DOMAIN: dict[type[Exception], tuple[int, str | None]] = {
    Unauthorized: (401, None),
    Forbidden: (403, None),
    NotFound: (404, None),
    Unknown: (404, None),
    Conflict: (409, None),
    NotAllowed: (409, None),
    Invalid: (422, None),
    RateLimited: (429, None),
    DataError: (422, "a value in the request cannot be stored (for example a NUL character)"),
    DatabaseUnavailable: (503, "the database is unavailable; try again"),
}

MESSAGES = {
    400: "malformed request body: it must be JSON",
    404: "not found: no such URL",
    405: "method not allowed on this resource",
    422: "invalid request; see errors",
}


class ErrorSchema(SmorestErrorSchema):
    code = fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = fields.String(required=True, metadata={"description": "HTTP reason phrase"})
    message = fields.String(required=True, metadata={"description": "What went wrong, for a person"})
    errors = fields.Dict(required=True, metadata={"description": "Details by field"})


def error_body(code: int, message: str, errors: Any = None) -> dict[str, Any]:
    return {"code": code, "status": HTTP_STATUS_CODES[code], "message": message, "errors": errors or {}}


def _by_field(details: dict[str, Any]) -> dict[str, Any]:
    """webargs nests errors by location ({"json": {"name": [...]}}); people want them by field."""
    flat: dict[str, Any] = {}
    for location, errors in details.items():
        if isinstance(errors, dict):
            flat.update(errors)
        else:
            flat[location] = errors
    return flat


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        code = error.code or 500        # None only on werkzeug's base class, which nothing raises
        if code == 413:
            message = f"request body too large: the limit is {current_app.config['MAX_CONTENT_LENGTH']} bytes"
        else:
            message = data.get("message") or MESSAGES.get(code) or error.description or error.name
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        return error_body(code, message, _by_field(data.get("errors") or data.get("messages") or {})), code, headers


def _domain_error(exc: Exception):
    code, message = next(DOMAIN[cls] for cls in type(exc).__mro__ if cls in DOMAIN)
    if code >= 500:
        log.warning("%s: %s", type(exc).__name__, exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else {}
    return error_body(code, message or str(getattr(exc, "message", exc)), getattr(exc, "errors", None)), code, headers


def _unexpected(exc: Exception):
    log.exception("unhandled error")
    return error_body(500, "internal error; it has been logged"), 500


def register_error_handlers(app: Flask) -> None:
    for cls in DOMAIN:
        app.register_error_handler(cls, _domain_error)
    app.register_error_handler(Exception, _unexpected)
