"""Masking secrets in a rendered config before it is stored as a step's input.

Secrets are found by where they sit and by what they look like, not by key names alone:

- a value under a sensitive key (``password``, ``client_credentials``, ``X-Signature``...);
- every header of a ``headers`` mapping that is not on a short list of harmless ones
  (``Authentication``, ``X-Api-Key``, any custom header: unknown means secret);
- the password of a URL's user info (``https://user:***@host``);
- sensitive parameters of a query string or a form body (``?api_key=***``, ``pass=***``);
- the credentials after an auth scheme (``Bearer ***``);
- the same, inside a string that holds a JSON document (a request body).
"""
from __future__ import annotations

import json
import re
from typing import Any

MASK = "***"

SENSITIVE_NAME = re.compile(
    r"auth(?!or)|authoriz|token|secret|passw|pwd|^pass$|api[-_]?key|apikey|access[-_]?key|private[-_]?key|^key$|cookie"
    r"|credential|signature|^sig$|session|jwt|bearer",
    re.I,
)
# Headers whose values are never secrets; any other header's value is masked.
HARMLESS_HEADERS = frozenset({
    "accept", "accept-charset", "accept-encoding", "accept-language", "cache-control", "connection",
    "content-encoding", "content-language", "content-length", "content-type", "date", "expect", "host",
    "idempotency-key", "if-match", "if-modified-since", "if-none-match", "if-unmodified-since", "origin",
    "pragma", "range", "referer", "user-agent", "x-request-id", "x-correlation-id",
})
_USERINFO = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^/@\s:]*):[^/@\s]*@", re.I)
_PARAMETER = re.compile(r"(?P<name>[^?&=\s#;\"'{}]+)=(?P<value>[^&\s#;\"']*)")
_SCHEME_CREDENTIALS = re.compile(r"\b(?P<scheme>Bearer|Basic|Digest|Token|Negotiate)\s+[A-Za-z0-9._~+/=-]+", re.I)


def _mask_parameter(match: re.Match[str]) -> str:
    name = match["name"]
    return f"{name}={MASK}" if SENSITIVE_NAME.search(name.rsplit("[", 1)[0]) else match[0]


def redact_text(text: str) -> str:
    """``text`` with user-info passwords, sensitive parameters and auth-scheme credentials masked;
    a JSON document in it is redacted as data."""
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and len(stripped) > 1:
        try:
            return json.dumps(redact(json.loads(stripped)), ensure_ascii=False)
        except ValueError:
            pass  # not JSON: masked as text
    text = _USERINFO.sub(rf"\g<head>:{MASK}@", text)
    if "=" in text:
        text = _PARAMETER.sub(_mask_parameter, text)
    return _SCHEME_CREDENTIALS.sub(rf"\g<scheme> {MASK}", text)


def _headers(value: dict[Any, Any]) -> dict[Any, Any]:
    return {name: item if str(name).lower() in HARMLESS_HEADERS and not isinstance(item, (dict, list))
            else MASK for name, item in value.items()}


def _under(key: Any, item: Any) -> Any:
    if isinstance(item, (str, dict, list)) and SENSITIVE_NAME.search(str(key)):
        return MASK     # numbers and booleans under such keys (max_tokens: 100) are no secrets
    if str(key).lower() == "headers" and isinstance(item, dict):
        return _headers(item)
    return redact(item)


def redact(value: Any) -> Any:
    """A copy of a rendered config fit to store as the step's input: secrets masked."""
    if isinstance(value, dict):
        return {key: _under(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
