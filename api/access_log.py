"""gunicorn's access log with secrets masked: a token in a URL path (the approval routes of
earlier versions took one), sensitive query parameters, URL passwords and auth headers.

Use with ``gunicorn --logger-class api.access_log.MaskingLogger``.
"""
from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

from orchestrator.redaction import MASK, SENSITIVE_NAME, redact_text

_TOKEN_IN_PATH = re.compile(r"(/approvals/token/)(?!approve\b|reject\b)[^/?\s]+")
# Atoms that hold the URL, the referer or whole header values.
_URL_ATOMS = ("r", "U", "q", "f", "{raw_uri}e", "{path_info}e", "{query_string}e", "{request_uri}e",
              "{http_referer}e", "{referer}i")


def mask_url(text: str) -> str:
    return redact_text(_TOKEN_IN_PATH.sub(rf"\g<1>{MASK}", text))


class MaskingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for name in _URL_ATOMS:
            if isinstance(atoms.get(name), str):
                atoms[name] = mask_url(atoms[name])
        for name in list(atoms):
            header = name[1:-2] if name.startswith("{") and name.endswith(("}i", "}e")) else ""
            if header and SENSITIVE_NAME.search(header.removeprefix("http_")):
                atoms[name] = MASK
        return atoms
