"""The two protocols, through the official SDKs with their own retries off: OpenAI chat
completions (every provider type but ``anthropic``) and Anthropic messages.

One SDK client per process, endpoint and address rule is kept and reused (with its pool of
connections, each made through ``orchestrator.security.pinned_httpx``: resolved, checked and
pinned); the key and the per-call headers go with each request. A call either returns a
``Reply`` or raises one of the ``CallFailed`` kinds (``orchestrator.llm.protocol``), which say
what the caller should do next; the SDKs' own exceptions stay in this module.
"""
from __future__ import annotations

import email.utils
import json
import os
import threading
import time
from collections import OrderedDict
from typing import Any, Callable
from urllib.parse import urljoin

import anthropic
import openai

from orchestrator.llm import protocol
from orchestrator.llm.protocol import CallFailed, ModelUnusable, RateLimited, Refused, Rejected, Reply, Request, \
    Transient
from orchestrator.llm.resolution import Target
from orchestrator.security.network import LLM_ALLOW_PRIVATE_HINT, NetworkError, describe_url
from orchestrator.security.pinned_httpx import pinned_client
from orchestrator.states import ProviderType

# When a 429 names no time to wait.
DEFAULT_RATE_LIMIT_WAIT_SECONDS = 5.0
SCHEMA_INSTRUCTION = "Answer with one JSON value only, no prose, valid against this JSON Schema:"
_CONTEXT_TOO_LONG = ("context length", "context_length", "too many tokens", "prompt is too long", "maximum context")
# The SDK clients kept per process (endpoints beyond this many: the least recently used is dropped).
MAX_CLIENTS = 32
# The SDKs insist on a key when the client is made; the real one goes with each request.
_KEY_PER_REQUEST = "sent-with-each-request"


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


def _network_cause(exc: BaseException) -> NetworkError | None:
    """The address rule's refusal (or a name that does not resolve) under an SDK's connection error."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, NetworkError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _classify(exc: openai.APIError | anthropic.APIError, target: Target) -> CallFailed:
    """One of ours for an SDK exception of either protocol."""
    where = f"{target.ref} at {target.base_url}"
    if isinstance(exc, (openai.APITimeoutError, anthropic.APITimeoutError)):
        return Transient(f"{where} timed out")
    if isinstance(exc, (openai.APIConnectionError, anthropic.APIConnectionError)):
        network = _network_cause(exc)
        if network is not None and not network.retryable:
            return Rejected(f"cannot call {where}: {network}", retryable=False)
        return Transient(f"cannot connect to {where}" + (f": {network}" if network else ""))
    if isinstance(exc, (openai.APIStatusError, anthropic.APIStatusError)):
        status, message = exc.status_code, _provider_message(exc)
        text = f"{where} answered {status}: {message}"
        if 300 <= status < 400:
            location = urljoin(str(exc.response.url), exc.response.headers.get("location", ""))
            return Rejected(f"{where} answered {status}, a redirect to {describe_url(location)}: model calls do not "
                            "follow redirects; set the endpoint's base_url to where the model answers", status,
                            retryable=False)
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


# -- the SDK clients, one per process, endpoint and address rule ---------------------------------

_clients: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_clients_lock = threading.Lock()


def _forget_clients() -> None:
    """In a forked child: the parent's connections are not this process's to use."""
    global _clients_lock
    _clients.clear()
    _clients_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_clients)


def _client(target: Target, allow_private: bool) -> openai.OpenAI | anthropic.Anthropic:
    key = (target.protocol, target.base_url, target.api_version, target.timeout_connect, target.timeout_read,
           allow_private)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _new_client(target, allow_private)
            if len(_clients) > MAX_CLIENTS:
                _clients.popitem(last=False)
        else:
            _clients.move_to_end(key)
        return client


def _new_client(target: Target, allow_private: bool) -> openai.OpenAI | anthropic.Anthropic:
    http = pinned_client(allow_private=allow_private, hint=LLM_ALLOW_PRIVATE_HINT,
                         timeout=openai.Timeout(target.timeout_read, connect=target.timeout_connect))
    if target.protocol == "anthropic":
        return anthropic.Anthropic(api_key=_KEY_PER_REQUEST, base_url=target.base_url, max_retries=0,
                                   http_client=http)
    return openai.OpenAI(api_key=_KEY_PER_REQUEST, base_url=target.base_url, max_retries=0, http_client=http,
                         default_query={"api-version": target.api_version} if target.api_version else None)


def _key_headers(target: Target, api_key: str) -> dict[str, str]:
    if target.protocol == "anthropic":
        return {"X-Api-Key": api_key}
    # Azure OpenAI takes its keys in an api-key header (a bearer token there is an Entra token).
    return {"Authorization": f"Bearer {api_key}", **({"api-key": api_key} if target.type == ProviderType.AZURE else {})}


# -- a call ----------------------------------------------------------------------------------

def call(target: Target, api_key: str, request: Request, idempotency_key: str,
         on_delta: Callable[[str], None], *, allow_private: bool) -> Reply:
    """One request to ``target`` (whose addresses must be public unless ``allow_private``);
    deltas go to ``on_delta`` while it streams."""
    client = _client(target, allow_private)
    headers = {**_key_headers(target, api_key), "Idempotency-Key": idempotency_key}
    try:
        if target.protocol == "anthropic":
            return _anthropic(client, target, headers, request, on_delta)
        return _openai(client, target, headers, request, on_delta)
    except (openai.APIError, anthropic.APIError) as exc:
        raise _classify(exc, target) from None
    except ValueError:       # a body that is not JSON, or an event that is not
        raise Transient(f"{target.ref} at {target.base_url} answered something that is not JSON") from None


def _openai(client: openai.OpenAI, target: Target, headers: dict[str, str], request: Request,
            on_delta: Callable[[str], None]) -> Reply:
    kwargs: dict[str, Any] = {"model": target.model_id, "messages": request.messages, "extra_headers": headers,
                              "extra_body": request.params}
    if request.output_schema is not None:
        kwargs["response_format"] = {"type": "json_schema",
                                     "json_schema": {"name": "output", "schema": request.output_schema}}
    if request.tools:
        kwargs["tools"] = [{"type": "function", "function": tool} for tool in request.tools]
    if not request.stream:
        return protocol.openai_reply(client.chat.completions.create(**kwargs), target.ref)
    with client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True}) as chunks:
        return protocol.openai_stream(chunks, on_delta, target.ref)


def _anthropic(client: anthropic.Anthropic, target: Target, headers: dict[str, str], request: Request,
               on_delta: Callable[[str], None]) -> Reply:
    system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system")
    if request.output_schema is not None:
        system = f"{system}\n\n{SCHEMA_INSTRUCTION}\n{json.dumps(request.output_schema)}".strip()
    params = {name: value for name, value in request.params.items() if name != "max_tokens"}
    kwargs: dict[str, Any] = {
        "model": target.model_id, "max_tokens": protocol.max_tokens(target, request),
        "messages": _anthropic_messages(request.messages), "extra_headers": headers, "extra_body": params,
    }
    if request.tools:
        kwargs["tools"] = [{"name": t["name"], "description": t.get("description", ""),
                            "input_schema": t["parameters"]} for t in request.tools]
    if system:
        kwargs["system"] = system
    if request.stream:
        with client.messages.stream(**kwargs) as events:
            for piece in events.text_stream:
                on_delta(piece)
            return protocol.anthropic_reply(events.get_final_message(), target.ref)
    return protocol.anthropic_reply(client.messages.create(**kwargs), target.ref)


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
                        "input": _arguments(c["function"]["arguments"])} for c in message["tool_calls"]]
            converted.append({"role": "assistant", "content": blocks})
        else:
            converted.append({"role": role, "content": message["content"]})
    return converted


def _arguments(text: str | None) -> dict[str, Any]:
    """A tool call's arguments as Anthropic takes them: an object (the model's own text may not be one)."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
