"""The blueprint every resource uses: flask-smorest's, with a stricter JSON body parser."""
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
        except (ValueError, RecursionError) as exc:
            self._handle_invalid_json_error(exc, req)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = _Parser()
