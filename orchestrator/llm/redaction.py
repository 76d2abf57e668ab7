"""Redaction of what is stored for people to read: calls, events and errors.

The credentials in use are masked wherever they appear; so are bearer tokens, keys of known
shapes, e-mail addresses and phone numbers. What a node needs to resume (checkpoints,
memory) is sealed with the keyring instead, never redacted.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

MASK = "[REDACTED]"

# Ordered: a bearer token or a key is masked before the looser patterns see its parts.
_PATTERNS = (
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), "Bearer " + MASK),
    (re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"), MASK),           # OpenAI, Anthropic
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),                     # AWS access key id
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), MASK),                         # Google API key
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), MASK),                    # GitHub token
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"), MASK),                  # Slack token
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"), MASK),  # JWT
    # Starting only where a run of name characters starts: tried at every position of a long
    # run without "@", the pattern would scan to the run's end each time (quadratic: minutes
    # for a 900 kB prompt of one word).
    (re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[REDACTED:email]"),
    # An international number, or a national one in groups: +44 20 7946 0958, (555) 123-4567.
    (re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?\(?\d{2,4}\)?[\s.-]\d{3,4}[\s.-]?\d{3,4}(?!\w)"), "[REDACTED:phone]"),
    (re.compile(r"(?<![\w+])\+\d{8,15}(?!\w)"), "[REDACTED:phone]"),
)
# A secret shorter than this is not masked on its own (it would mask ordinary words).
MIN_SECRET_LENGTH = 6


class Redactor:
    """Masks ``secrets`` (e.g. the API keys in use) and the known shapes in strings, lists
    and dicts (keys and values)."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        for pattern, mask in _PATTERNS:
            value = pattern.sub(mask, value)
        return value

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        return value
