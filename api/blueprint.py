"""The blueprint every resource uses: flask-smorest's, with a stricter JSON body parser, an
``operationId`` on every operation and the error statuses each one can answer documented."""
from __future__ import annotations

import json
import re
from typing import Any, NoReturn

import flask
import flask_smorest
from webargs.core import is_json, missing
from webargs.flaskparser import FlaskParser


# \uD800-\uDFFF: half of a surrogate pair, which alone is no character and cannot be stored.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not JSON")


class _Parser(FlaskParser):
    """webargs' parser, plus: a body not sent as JSON, NaN and Infinity, unpaired surrogates,
    numbers with thousands of digits and nesting beyond Python's recursion limit are a
    malformed body (400); an unknown query parameter is a 422 like an unknown body field."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None}

    def _raw_load_json(self, req: flask.Request) -> Any:
        body = req.get_data(cache=True)
        if not is_json(req.mimetype):
            if body:
                flask_smorest.abort(400, message="the body must be JSON, sent with Content-Type: application/json")
            return missing
        try:
            data = json.loads(body, parse_constant=_not_json)
            if _SURROGATE_ESCAPE.search(body):
                json.dumps(data, ensure_ascii=False).encode()     # UnicodeEncodeError if one is unpaired
            return data
        except json.JSONDecodeError:
            raise                       # webargs: an empty body is missing, anything else 400
        except (ValueError, RecursionError) as exc:    # webargs' answer to an undecodable body
            flask_smorest.abort(400, exc=exc, messages={"json": ["Invalid JSON body."]})


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _errors(doc: dict[str, Any], rule: str) -> dict[str, str]:
    """The error statuses an operation can answer, by the kind of request it takes (DESIGN section 6)."""
    manual = doc.get("manual_doc", {})
    errors: dict[str, str] = {}
    if any(p["in"] == "json" for p in doc.get("arguments", {}).get("parameters", [])):
        errors.update({"400": "BAD_REQUEST", "413": "REQUEST_ENTITY_TOO_LARGE"})
    if manual.get("security") != []:
        errors["401"] = "UNAUTHORIZED"
    if "<" in rule:
        errors["404"] = "NOT_FOUND"
    return errors


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _Parser()

    def add_url_rule(self, rule, endpoint=None, view_func=None, provide_automatic_options=None, **kwargs):
        super().add_url_rule(rule, endpoint, view_func, provide_automatic_options, **kwargs)
        endpoint = self._endpoints[-1]
        is_function = not isinstance(view_func, type)
        for method, doc in self._docs[endpoint].items():
            if method == "parameters":
                continue
            manual = doc.setdefault("manual_doc", {})
            name = endpoint if is_function else f"{method}_{_snake(endpoint)}"
            manual.setdefault("operationId", f"{self.name}_{name}")
            manual["responses"] = {**_errors(doc, rule), **manual.get("responses", {})}


def not_found(description: str):
    """Document a 404 on an operation that names its object in the body, not the path."""
    return Blueprint.doc(responses={"404": {"description": f"Not found: {description}",
                                            "content": {"application/json": {"schema": "Error"}}}})


def conflict(description: str):
    """Document a 409 on an operation whose resource can be in a state that refuses it."""
    return Blueprint.doc(responses={"409": {"description": f"Conflict: {description}",
                                            "content": {"application/json": {"schema": "Error"}}}})


def rate_limited(description: str):
    """Document a 429 with Retry-After on an operation that counts against a rate limit."""
    return Blueprint.doc(responses={"429": {"description": description,
                                            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                                            "content": {"application/json": {"schema": "Error"}}}})
