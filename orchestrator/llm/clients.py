"""The two protocols, through the official SDKs with their own retries off: OpenAI chat
completions (every provider type but ``anthropic``) and Anthropic messages.

A call either returns a ``Reply`` or raises one of the ``CallFailed`` kinds below, which say
what the caller should do next; the SDKs' own exceptions stay in this module.
"""
from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import anthropic
import openai

from orchestrator.llm.resolution import Target
from orchestrator.states import ProviderType

# When a 429 names no time to wait.
DEFAULT_RATE_LIMIT_WAIT_SECONDS = 5.0
# An Anthropic request must state max_tokens; used when neither params nor the model give one.
DEFAULT_MAX_TOKENS = 1024
SCHEMA_INSTRUCTION = "Answer with one JSON value only, no prose, valid against this JSON Schema:"
_CONTEXT_TOO_LONG = ("context length", "context_length", "too many tokens", "prompt is too long", "maximum context")


@dataclass
class Reply:
    text: str
    finish_reason: str | None
    # None when the provider did not report usage (then the cost is unknown too).
    prompt_tokens: int | None
    completion_tokens: int | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


class CallFailed(Exception):
    """A call that did not answer; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class Transient(CallFailed):
    """5xx, timeout, connection error: retry, then give way to a fallback."""


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
    """Any other 4xx: the request itself is wrong; no other model or key will help."""


def retry_after_seconds(headers: Any, now: float | None = None) -> float:
    """``retry-after-ms``, else ``Retry-After`` (seconds or an HTTP date), else the default."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
                return max(0.0, when.timestamp() - (time.time() if now is None else now))
            except (TypeError, ValueError):
                pass
    return DEFAULT_RATE_LIMIT_WAIT_SECONDS


def _provider_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(getattr(exc, "message", "") or exc)


def _classify(exc: openai.APIError | anthropic.APIError, target: Target) -> CallFailed:
    """One of ours for an SDK exception of either protocol."""
    where = f"{target.ref} at {target.base_url}"
    if isinstance(exc, (openai.APITimeoutError, anthropic.APITimeoutError)):
        return Transient(f"{where} timed out")
    if isinstance(exc, (openai.APIConnectionError, anthropic.APIConnectionError)):
        return Transient(f"cannot connect to {where}")
    if isinstance(exc, (openai.APIStatusError, anthropic.APIStatusError)):
        status, message = exc.status_code, _provider_message(exc)
        text = f"{where} answered {status}: {message}"
        if status == 429:
            return RateLimited(text, retry_after_seconds(exc.response.headers))
        if status in (401, 403):
            return Refused(text, status)
        if status >= 500 or status == 408:
            return Transient(text, status)
        if status == 404 or (status in (400, 413) and any(k in message.lower() for k in _CONTEXT_TOO_LONG)):
            return ModelUnusable(text, status)
        return Rejected(text, status)
    return Transient(f"{where} answered something unreadable: {exc}")   # e.g. a malformed body


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


def call(target: Target, api_key: str, request: Request, idempotency_key: str,
         on_delta: Callable[[str], None]) -> Reply:
    """One request to ``target``; deltas go to ``on_delta`` while it streams."""
    try:
        if target.protocol == "anthropic":
            return _anthropic(target, api_key, request, idempotency_key, on_delta)
        return _openai(target, api_key, request, idempotency_key, on_delta)
    except (openai.APIError, anthropic.APIError) as exc:
        raise _classify(exc, target) from None


def _openai(target: Target, api_key: str, request: Request, idempotency_key: str,
            on_delta: Callable[[str], None]) -> Reply:
    client = openai.OpenAI(
        api_key=api_key, base_url=target.base_url, max_retries=0,
        timeout=openai.Timeout(target.timeout_read, connect=target.timeout_connect),
        default_query={"api-version": target.api_version} if target.api_version else None,
        # Azure OpenAI takes its keys in an api-key header (a bearer token there is an Entra token).
        default_headers={"api-key": api_key} if target.type == ProviderType.AZURE else None,
    )
    kwargs: dict[str, Any] = {"model": target.model_id, "messages": request.messages,
                              "extra_headers": {"Idempotency-Key": idempotency_key}, "extra_body": request.params}
    if request.output_schema is not None:
        kwargs["response_format"] = {"type": "json_schema",
                                     "json_schema": {"name": "output", "schema": request.output_schema}}
    if request.tools:
        kwargs["tools"] = [{"type": "function", "function": tool} for tool in request.tools]
    with client:
        if not request.stream:
            answer = client.chat.completions.create(**kwargs)
            choice = answer.choices[0]
            usage = answer.usage
            return Reply(choice.message.content or "", choice.finish_reason,
                         usage.prompt_tokens if usage else None, usage.completion_tokens if usage else None,
                         [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                          for c in choice.message.tool_calls or []])
        parts: list[str] = []
        finish, usage, calls = None, None, {}
        for chunk in client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}):
            usage = chunk.usage or usage
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                if choice.delta.content:
                    parts.append(choice.delta.content)
                    on_delta(choice.delta.content)
                for call_delta in choice.delta.tool_calls or []:
                    slot = calls.setdefault(call_delta.index, {"id": None, "name": "", "arguments": ""})
                    slot["id"] = call_delta.id or slot["id"]
                    if call_delta.function:
                        slot["name"] += call_delta.function.name or ""
                        slot["arguments"] += call_delta.function.arguments or ""
        return Reply("".join(parts), finish, usage.prompt_tokens if usage else None,
                     usage.completion_tokens if usage else None, [calls[i] for i in sorted(calls)])


def _anthropic(target: Target, api_key: str, request: Request, idempotency_key: str,
               on_delta: Callable[[str], None]) -> Reply:
    client = anthropic.Anthropic(api_key=api_key, base_url=target.base_url, max_retries=0,
                                 timeout=anthropic.Timeout(target.timeout_read, connect=target.timeout_connect))
    system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system")
    if request.output_schema is not None:
        system = f"{system}\n\n{SCHEMA_INSTRUCTION}\n{json.dumps(request.output_schema)}".strip()
    params = dict(request.params)
    max_tokens = params.pop("max_tokens", None) or target.max_output_tokens or DEFAULT_MAX_TOKENS
    kwargs: dict[str, Any] = {
        "model": target.model_id, "max_tokens": max_tokens,
        "messages": _anthropic_messages(request.messages),
        "extra_headers": {"Idempotency-Key": idempotency_key}, "extra_body": params,
    }
    if request.tools:
        kwargs["tools"] = [{"name": t["name"], "description": t.get("description", ""),
                            "input_schema": t["parameters"]} for t in request.tools]
    if system:
        kwargs["system"] = system
    with client:
        if request.stream:
            with client.messages.stream(**kwargs) as events:
                for piece in events.text_stream:
                    on_delta(piece)
                message = events.get_final_message()
        else:
            message = client.messages.create(**kwargs)
    text = "".join(block.text for block in message.content if block.type == "text")
    calls = [{"id": b.id, "name": b.name, "arguments": json.dumps(b.input)}
             for b in message.content if b.type == "tool_use"]
    return Reply(text, message.stop_reason, message.usage.input_tokens, message.usage.output_tokens, calls)


def _anthropic_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI-shaped messages as Anthropic's: tool calls become ``tool_use`` blocks and tool
    results ``tool_result`` blocks of one user message."""
    converted: list[dict[str, Any]] = []
    for message in messages:
        role = message["role"]
        if role == "system":
            continue
        if role == "tool":
            block = {"type": "tool_result", "tool_use_id": message["tool_call_id"], "content": message["content"]}
            last = converted[-1] if converted else None
            if last and last["role"] == "user" and isinstance(last["content"], list) \
                    and all(b.get("type") == "tool_result" for b in last["content"]):
                last["content"].append(block)
            else:
                converted.append({"role": "user", "content": [block]})
        elif role == "assistant" and message.get("tool_calls"):
            blocks = [{"type": "text", "text": message["content"]}] if message.get("content") else []
            blocks += [{"type": "tool_use", "id": c["id"], "name": c["function"]["name"],
                        "input": json.loads(c["function"]["arguments"] or "{}")} for c in message["tool_calls"]]
            converted.append({"role": "assistant", "content": blocks})
        else:
            converted.append({"role": role, "content": message["content"]})
    return converted
