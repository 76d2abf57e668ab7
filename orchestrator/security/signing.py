"""The one signature scheme of requests that cross the boundary without an API key: inbound
webhooks and outbound notifications (Stripe's scheme).

``Orchestrator-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``, the HMAC keyed with the
secret (its text, as UTF-8) over ``<t>.<body>``, the body's bytes as sent. Several ``v1=``
may be given (one per secret, while a secret is replaced); one matching is enough. A
timestamp more than the tolerance away from the receiver's clock is refused, so a captured
request cannot be sent again later; within the window, the receiver refuses a signature it
has seen (inbound webhooks remember theirs).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER = "Orchestrator-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The signature is missing, malformed, stale or wrong; the message says which."""


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header's value for ``body``, signed now (or at ``timestamp``)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={digest(secret, timestamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError(f"the {HEADER} header must read t=<unix seconds>,v1=<hex HMAC-SHA256 of "
                             "'<t>.<body>' keyed with the secret>")
    return timestamp, signatures


def verify(secret: str, header: str | None, body: bytes, *, tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
           now: float | None = None) -> str:
    """The ``v1`` signature of ``header`` that matches ``body`` signed with ``secret``; else
    SignatureError naming what is wrong (checked in this order: present, well formed, the
    HMAC, then the timestamp's distance from ``now``)."""
    if not header:
        raise SignatureError(f"no {HEADER} header: sign the body as t=<unix seconds>,v1=<hex HMAC-SHA256 of "
                             "'<t>.<body>' keyed with the secret>")
    timestamp, given = _parse(header)
    expected = digest(secret, timestamp, body)
    matched = next((signature for signature in given if hmac.compare_digest(signature, expected)), None)
    if matched is None:
        raise SignatureError("the signature does not match the body: sign '<t>.<body>' (the body's bytes as sent) "
                             "with HMAC-SHA256 keyed with the secret, hex-encoded")
    skew = (time.time() if now is None else now) - timestamp
    if abs(skew) > tolerance_seconds:
        raise SignatureError(f"the signature's timestamp is {abs(skew):.0f} s {'old' if skew > 0 else 'ahead'}; "
                             f"it must be within {tolerance_seconds:g} s of the receiver's clock")
    return matched
