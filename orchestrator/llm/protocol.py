"""What a model call is, whichever protocol: the ``Request``, the ``Reply``, the ways a call
fails (``CallFailed`` and its kinds, which say what the caller should do next), reading the
SDKs' answers into a ``Reply`` and judging whether a reply can be used.

The SDKs build their answer objects without validation, so whatever a server sends (``{}``,
``{"choices": []}``, a choice without a message, a token count that is not a number) arrives
here as missing attributes; each is read with care and a malformed answer is a ``Transient``
failure naming what was missing, never a ``TypeError``.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Callable

from orchestrator.llm.resolution import Target

# An Anthropic request must state max_tokens; used when neither params nor the model give one.
DEFAULT_MAX_TOKENS = 1024
# finish_reason / stop_reason of an answer cut off at a limit.
_CUT_OFF = frozenset({"length", "max_tokens", "model_context_window_exceeded"})


@dataclass(frozen=True)
class Request:
    """What to ask: ``messages`` in OpenAI's shape ({role, content}, the system first; an
    assistant's ``tool_calls`` and ``tool`` messages with ``tool_call_id`` for function tools);
    ``tools``: [{name, description, parameters (a JSON Schema)}] the model may call."""

    messages: list[dict[str, Any]]
    params: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    stream: bool = False
    tools: tuple[dict[str, Any], ...] = ()


@dataclass
class Reply:
    text: str
    finish_reason: str | None
    # None when the provider did not report usage (then the cost is unknown too).
    prompt_tokens: int | None
    completion_tokens: int | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    refusal: str | None = None      # OpenAI's ``message.refusal``: the model declined


class CallFailed(Exception):
    """A call that did not answer; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Transient(CallFailed):
    """5xx, timeout, connection error, a malformed or empty answer: retry, then give way to a fallback."""


class RateLimited(CallFailed):
    """429: cool the credential down until ``retry_after`` seconds from now."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message, 429)
        self.retry_after = retry_after


class Refused(CallFailed):
    """401/403: the credential is refused."""


class ModelUnusable(CallFailed):
    """The model cannot answer this (not found, context too long): give way to a fallback."""


class Rejected(CallFailed):
    """Any other 4xx, a refused address, a redirect, an answer refused, filtered or cut off: no
    other model or key will help. ``retryable=False``: another attempt of the step would not either."""

    def __init__(self, message: str, status: int | None = None, *, retryable: bool = True):
        super().__init__(message, status)
        self.retryable = retryable


def max_tokens(target: Target, request: Request) -> int | None:
    """The answer's token limit in force: the call's ``max_tokens``, else the model's (Anthropic:
    else ``DEFAULT_MAX_TOKENS``); None when the provider's own default applies."""
    default = DEFAULT_MAX_TOKENS if target.protocol == "anthropic" else None
    return request.params.get("max_tokens") or target.max_output_tokens or default


def unusable(reply: Reply, target: Target, request: Request) -> CallFailed | None:
    """Why an answer that arrived cannot be used, or None: a refusal or a filtered answer (not
    retryable), one cut off at its token limit (not retryable: it would be cut off again), an
    empty one (transient)."""
    ref = target.ref
    if reply.refusal or reply.finish_reason == "refusal":
        said = (reply.refusal or reply.text).strip()
        return Rejected(f"{ref} refused to answer" + (f": {said[:300]}" if said else ""), retryable=False)
    if reply.finish_reason == "content_filter":
        return Rejected(f"the answer of {ref} was withheld by the provider's content filter "
                        "(finish_reason content_filter)", retryable=False)
    if reply.finish_reason in _CUT_OFF:
        limit = max_tokens(target, request)
        return Rejected(
            f"the answer of {ref} was cut off (finish_reason {reply.finish_reason}"
            + (f", max_tokens {limit}" if limit else "") + ")"
            + ("; its JSON is incomplete" if request.output_schema is not None else "")
            + ": raise params.max_tokens (or the model's max_output_tokens), or ask for a shorter answer",
            retryable=False)
    if not reply.text.strip() and not reply.tool_calls:
        return Transient(f"{ref} answered nothing: no text and no tool call")
    return None


# -- reading the SDKs' answers -------------------------------------------------------------------

def _tokens(usage: Any, name: str) -> int | None:
    value = getattr(usage, name, None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _content_text(content: Any, ref: str) -> str:
    """A message's content: a string, none, or a list of text parts (as some servers send)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("text", ""), str) for p in content):
        return "".join(p.get("text", "") for p in content)
    raise Transient(f"{ref} answered content that is not text ({type(content).__name__})")


def _call(call_id: Any, name: Any, arguments: Any, ref: str) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise Transient(f"{ref} answered a tool call without a function name")
    return {"id": _string(call_id), "name": name, "arguments": arguments if isinstance(arguments, str) else ""}


def openai_reply(answer: Any, ref: str) -> Reply:
    """A chat completion (as the SDK built it from whatever came) as a ``Reply``."""
    choices = getattr(answer, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise Transient(f"{ref} answered without choices")
    message = getattr(choices[0], "message", None)
    if message is None:
        raise Transient(f"{ref} answered a choice without a message")
    calls = getattr(message, "tool_calls", None) or []
    usage = getattr(answer, "usage", None)
    return Reply(_content_text(getattr(message, "content", None), ref), _string(getattr(choices[0], "finish_reason", None)),
                 _tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"),
                 [_call(getattr(c, "id", None), getattr(getattr(c, "function", None), "name", None),
                        getattr(getattr(c, "function", None), "arguments", None), ref) for c in calls],
                 _string(getattr(message, "refusal", None)) or None)


def openai_stream(chunks: Iterable[Any], on_delta: Callable[[str], None], ref: str) -> Reply:
    """Streamed chunks as one ``Reply``; text deltas go to ``on_delta`` as they come."""
    parts: list[str] = []
    refusal: list[str] = []
    finish, usage = None, None
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        usage = getattr(chunk, "usage", None) or usage
        for choice in getattr(chunk, "choices", None) or []:
            finish = _string(getattr(choice, "finish_reason", None)) or finish
            delta = getattr(choice, "delta", None)
            content, refused = _string(getattr(delta, "content", None)), _string(getattr(delta, "refusal", None))
            if content:
                parts.append(content)
                on_delta(content)
            if refused:
                refusal.append(refused)
            for call_delta in getattr(delta, "tool_calls", None) or []:
                index = getattr(call_delta, "index", None)
                slot = calls.setdefault(index if isinstance(index, int) else len(calls),
                                        {"id": None, "name": "", "arguments": ""})
                slot["id"] = _string(getattr(call_delta, "id", None)) or slot["id"]
                function = getattr(call_delta, "function", None)
                slot["name"] += _string(getattr(function, "name", None)) or ""
                slot["arguments"] += _string(getattr(function, "arguments", None)) or ""
    if finish is None:
        raise Transient(f"the answer of {ref} ended before it was finished (no finish_reason)")
    return Reply("".join(parts), finish, _tokens(usage, "prompt_tokens"), _tokens(usage, "completion_tokens"),
                 [_call(c["id"], c["name"], c["arguments"], ref) for _, c in sorted(calls.items())],
                 "".join(refusal) or None)


def anthropic_reply(message: Any, ref: str) -> Reply:
    """An Anthropic message (as the SDK built it) as a ``Reply``."""
    blocks = getattr(message, "content", None)
    if not isinstance(blocks, list):
        raise Transient(f"{ref} answered without content")
    texts, calls = [], []
    for block in blocks:
        kind = getattr(block, "type", None)
        if kind == "text":
            texts.append(_content_text(getattr(block, "text", None), ref))
        elif kind == "tool_use":
            arguments = getattr(block, "input", None)
            calls.append(_call(getattr(block, "id", None), getattr(block, "name", None),
                               json.dumps(arguments if isinstance(arguments, dict) else {}), ref))
    usage = getattr(message, "usage", None)
    return Reply("".join(texts), _string(getattr(message, "stop_reason", None)), _tokens(usage, "input_tokens"),
                 _tokens(usage, "output_tokens"), calls)
