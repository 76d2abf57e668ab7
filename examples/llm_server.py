"""An offline model provider on 127.0.0.1 that speaks two protocols:

    python -m examples.llm_server [--port 8766]

POST /v1/chat/completions   the OpenAI chat-completions protocol (``stream``, tool calls, usage)
POST /v1/messages           the Anthropic messages protocol (``stream`` events, tool use, usage)

With nothing scripted it answers deterministically: ``offline reply to: <the last user
message>``, or, when the request asks for JSON valid against a schema (OpenAI
``response_format`` ``json_schema``, or a system prompt holding ``JSON Schema:`` followed by
the schema), the smallest value that satisfies it, its strings taken from the last user message.
A request that offers tools and whose first user message holds ``[call <tool> <JSON
arguments>]`` directives asks for those calls in order, one per answer (as many as the
conversation holds no tool result for yet), then answers as above: agents run the same way
however many run at once. Usage counts words. Tests script replies in order (``LLMServer.script``) and read the
requests the server saw (``LLMServer.requests``); another process can do the same over HTTP:
``POST /_script`` with ``{"replies": [...]}`` and ``GET /_requests``.
"""
from __future__ import annotations

import argparse
import json
import re
import select
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qs

SCHEMA_MARKER = "JSON Schema:"


# --- scripted replies -----------------------------------------------------------------------

def text(content: str, *, model: str | None = None, finish_reason: str = "stop",
         usage: dict[str, int] | None = None, report_usage: bool = True) -> dict[str, Any]:
    """A text answer (``usage``: {prompt_tokens, completion_tokens}; default: word counts;
    ``report_usage=False``: an OpenAI-protocol answer without usage, as some servers give)."""
    return {"kind": "text", "text": content, "model": model, "finish_reason": finish_reason, "usage": usage,
            "report_usage": report_usage}


def json_reply(value: Any, **options: Any) -> dict[str, Any]:
    return text(json.dumps(value), **options)


def tool_call(name: str, arguments: dict[str, Any], *, model: str | None = None) -> dict[str, Any]:
    return {"kind": "tool_call", "name": name, "arguments": arguments, "model": model}


def stream(chunks: list[str], *, interval: float = 0.05, model: str | None = None) -> dict[str, Any]:
    """A streamed answer: one delta per chunk, ``interval`` seconds apart (even without ``stream``
    in the request, the chunks then arrive as one answer after the same total time)."""
    return {"kind": "stream", "chunks": chunks, "interval": interval, "model": model}


def error(status: int, message: str = "provider error", *, retry_after: float | None = None,
          retry_after_ms: int | None = None, model: str | None = None) -> dict[str, Any]:
    """A provider-shaped error, with ``Retry-After`` (seconds) and/or ``retry-after-ms`` headers."""
    return {"kind": "error", "status": status, "message": message, "retry_after": retry_after,
            "retry_after_ms": retry_after_ms, "model": model}


def refusal(message: str, *, model: str | None = None) -> dict[str, Any]:
    """The model declines: OpenAI ``message.refusal`` (streamed as ``delta.refusal``), Anthropic
    ``stop_reason: refusal``."""
    return {"kind": "refusal", "text": message, "model": model}


def raw(body: str, *, status: int = 200, content_type: str = "application/json",
        model: str | None = None) -> dict[str, Any]:
    """Exactly ``body``, whatever was asked: a malformed answer (``{}``, ``{"choices": []}``,
    not JSON, an event stream cut short)."""
    return {"kind": "raw", "body": body, "status": status, "content_type": content_type, "model": model}


def redirect(location: str, *, status: int = 307, model: str | None = None) -> dict[str, Any]:
    """A redirect to ``location`` (a model server that moved, or one that points inwards)."""
    return {"kind": "redirect", "location": location, "status": status, "model": model}


def delay(seconds: float, reply: dict[str, Any] | None = None) -> dict[str, Any]:
    """``reply`` (default: the default answer) after ``seconds``."""
    return {"kind": "delay", "seconds": seconds, "reply": reply, "model": (reply or {}).get("model")}


def hang(*, model: str | None = None) -> dict[str, Any]:
    """Never answers (until the server closes): for client timeouts."""
    return {"kind": "hang", "model": model}


# --- what a request asked for ---------------------------------------------------------------

@dataclass
class SeenRequest:
    protocol: str                 # openai | anthropic
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    query: dict[str, list[str]] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    @property
    def api_key(self) -> str | None:
        if self.protocol == "anthropic":
            return self.headers.get("x-api-key")
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None

    @property
    def model(self) -> str | None:
        return self.body.get("model")

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages") or []


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _last_user_text(request: SeenRequest) -> str:
    for message in reversed(request.messages):
        if message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _requested_schema(request: SeenRequest) -> dict[str, Any] | None:
    response_format = request.body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        return response_format.get("json_schema", {}).get("schema") or {}
    system = request.body.get("system")
    texts = [_content_text(system)] if system else []
    texts += [_content_text(m.get("content")) for m in request.messages if m.get("role") == "system"]
    for chunk in texts:
        at = chunk.find(SCHEMA_MARKER)
        if at >= 0:
            try:
                return json.JSONDecoder().raw_decode(chunk[at + len(SCHEMA_MARKER):].lstrip())[0]
            except ValueError:
                return None
    return None


def example_of(schema: dict[str, Any], source: str) -> Any:
    """The smallest value valid against a simple schema; strings come from ``source``."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "object")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example_of(sub, source) for name, sub in properties.items()}
    if kind == "array":
        return [example_of(schema.get("items", {"type": "string"}), source)] * max(1, schema.get("minItems", 1))
    if kind == "string":
        words = " ".join(source.split()[:12]) or "offline"
        return words[: schema.get("maxLength", len(words))].ljust(schema.get("minLength", 0), ".")
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return True
    return None


_DIRECTIVE = re.compile(r"\[call (\w+) (\{.*?\})\]")


def _directed_call(request: SeenRequest) -> dict[str, Any] | None:
    """The next tool call the first user message directs, when the request offers tools."""
    if not request.body.get("tools"):
        return None
    first = next((m for m in request.messages if m.get("role") == "user"), None)
    directives = _DIRECTIVE.findall(_content_text(first.get("content")) if first else "")
    answered = sum(1 for m in request.messages if m.get("role") == "tool") + sum(
        1 for m in request.messages if isinstance(m.get("content"), list)
        for block in m["content"] if isinstance(block, dict) and block.get("type") == "tool_result")
    if answered >= len(directives):
        return None
    name, arguments = directives[answered]
    return tool_call(name, json.loads(arguments))


def default_reply(request: SeenRequest) -> dict[str, Any]:
    directed = _directed_call(request)
    if directed is not None:
        return directed
    question = _last_user_text(request)
    schema = _requested_schema(request)
    if schema is not None:
        return json_reply(example_of(schema, question))
    return text(f"offline reply to: {question[:200]}")


def _words(value: str) -> int:
    return len(re.findall(r"\S+", value))


def _usage(request: SeenRequest, reply: dict[str, Any], answer: str) -> tuple[int, int]:
    if reply.get("usage"):
        return reply["usage"]["prompt_tokens"], reply["usage"]["completion_tokens"]
    prompt = _words(_content_text(request.body.get("system"))) + sum(
        _words(_content_text(m.get("content"))) for m in request.messages)
    return prompt, max(1, _words(answer))


# --- the two protocols ----------------------------------------------------------------------

def _answer_text(reply: dict[str, Any]) -> str:
    if reply["kind"] == "stream":
        return "".join(reply["chunks"])
    if reply["kind"] == "tool_call":
        return json.dumps(reply["arguments"])
    return reply["text"]


class _Handler(BaseHTTPRequestHandler):
    server: "LLMServer"
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: without TCP_NODELAY the body waits for
    # the client's delayed ACK (40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            print(f"llm_server: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)

    # plumbing

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _start_events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _event(self, data: Any, name: str | None = None) -> None:
        frame = (f"event: {name}\n" if name else "") + f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
        self.wfile.write(frame.encode())
        self.wfile.flush()

    def do_GET(self) -> None:
        if self.path == "/_requests":
            return self._send(200, [{"protocol": r.protocol, "path": r.path, "body": r.body}
                                    for r in self.server.requests])
        self._send(404, {"error": {"message": f"unknown path {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._send(400, {"error": {"message": "the body is not JSON", "type": "invalid_request_error"}})
        if self.path == "/_script":
            self.server.script(*body.get("replies", []))
            return self._send(200, {"queued": len(body.get("replies", []))})
        path, _, query = self.path.partition("?")
        protocol = {"/v1/chat/completions": "openai", "/chat/completions": "openai",
                    "/v1/messages": "anthropic", "/messages": "anthropic"}.get(path)
        if protocol is None:
            return self._send(404, {"error": {"message": f"unknown path {path}", "type": "not_found"}})
        request = SeenRequest(protocol, path, {k.lower(): v for k, v in self.headers.items()}, body, parse_qs(query))
        with self.server.answering():
            self._answer(protocol, request)

    def _answer(self, protocol: str, request: SeenRequest) -> None:
        if self.server.latency and self.server.closing.wait(self.server.latency):
            return
        reply = self.server.next_reply(request)
        while reply["kind"] in ("delay", "hang"):
            if reply["kind"] == "hang":
                self.server.closing.wait()
                return
            if self.server.closing.wait(reply["seconds"]):
                return
            reply = reply["reply"] or default_reply(request)
        if self._peer_gone():
            return
        # Recorded once the caller is known to be there, before the answer goes out: a caller
        # may read its answer and ask for ``requests`` before this thread could append after it.
        self.server.record(request)
        if reply["kind"] == "error":
            self._error(protocol, reply)
        elif reply["kind"] in ("raw", "redirect"):
            self._raw(reply)
        elif protocol == "openai":
            self._openai(request, reply)
        else:
            self._anthropic(request, reply)

    def _peer_gone(self) -> bool:
        """Whether the client hung up while we waited (e.g. its process was killed)."""
        ready, _, _ = select.select([self.connection], [], [], 0)
        return bool(ready) and self.connection.recv(1, socket.MSG_PEEK) == b""

    def _error(self, protocol: str, reply: dict[str, Any]) -> None:
        headers = {}
        if reply.get("retry_after") is not None:
            headers["Retry-After"] = f"{reply['retry_after']:g}"
        if reply.get("retry_after_ms") is not None:
            headers["retry-after-ms"] = str(reply["retry_after_ms"])
        status = reply["status"]
        kind = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
        if protocol == "openai":
            body = {"error": {"message": reply["message"], "type": kind, "param": None, "code": kind}}
        else:
            body = {"type": "error", "error": {"type": kind, "message": reply["message"]}}
        self._send(status, body, headers)

    def _raw(self, reply: dict[str, Any]) -> None:
        data = reply.get("body", "").encode()
        self.send_response(reply["status"])
        if reply["kind"] == "redirect":
            self.send_header("Location", reply["location"])
        else:
            self.send_header("Content-Type", reply["content_type"])
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # OpenAI chat completions

    def _openai(self, request: SeenRequest, reply: dict[str, Any]) -> None:
        ident, created, model = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time()), request.model or "offline"
        answer = _answer_text(reply)
        prompt_tokens, completion_tokens = _usage(request, reply, answer)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        tool_calls = None
        if reply["kind"] == "tool_call":
            tool_calls = [{"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function",
                           "function": {"name": reply["name"], "arguments": json.dumps(reply["arguments"])}}]
        finish = "tool_calls" if tool_calls else reply.get("finish_reason", "stop")
        if not request.body.get("stream"):
            if reply["kind"] == "stream":
                time.sleep(reply["interval"] * len(reply["chunks"]))
            message = {"role": "assistant", "content": None if tool_calls or reply["kind"] == "refusal" else answer}
            if tool_calls:
                message["tool_calls"] = tool_calls
            if reply["kind"] == "refusal":
                message["refusal"] = reply["text"]
            answer_body = {"id": ident, "object": "chat.completion", "created": created, "model": model,
                           "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
            if reply.get("report_usage", True):
                answer_body["usage"] = usage
            return self._send(200, answer_body)

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

        self._start_events()
        self._event(chunk({"role": "assistant", "content": ""}))
        if tool_calls:
            call = tool_calls[0]
            self._event(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                               "function": {"name": call["function"]["name"], "arguments": ""}}]}))
            self._event(chunk({"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]}))
        elif reply["kind"] == "refusal":
            self._event(chunk({"refusal": reply["text"]}))
        else:
            pieces, interval = (reply["chunks"], reply["interval"]) if reply["kind"] == "stream" else ([answer], 0)
            for piece in pieces:
                self._event(chunk({"content": piece}))
                if interval and self.server.closing.wait(interval):
                    return
        self._event(chunk({}, finish))
        if (request.body.get("stream_options") or {}).get("include_usage") and reply.get("report_usage", True):
            self._event({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                         "choices": [], "usage": usage})
        self._event("[DONE]")

    # Anthropic messages

    def _anthropic(self, request: SeenRequest, reply: dict[str, Any]) -> None:
        ident, model = f"msg_{uuid.uuid4().hex[:24]}", request.model or "offline"
        answer = _answer_text(reply)
        input_tokens, output_tokens = _usage(request, reply, answer)
        if reply["kind"] == "tool_call":
            content = [{"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:12]}", "name": reply["name"],
                        "input": reply["arguments"]}]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": answer}]
            stop = "refusal" if reply["kind"] == "refusal" else {
                "stop": "end_turn", "length": "max_tokens", "content_filter": "refusal"}.get(
                reply.get("finish_reason", "stop"), "end_turn")
        message = {"id": ident, "type": "message", "role": "assistant", "model": model, "content": content,
                   "stop_reason": stop, "stop_sequence": None,
                   "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens}}
        if not request.body.get("stream"):
            if reply["kind"] == "stream":
                time.sleep(reply["interval"] * len(reply["chunks"]))
            return self._send(200, message)
        self._start_events()
        self._event({"type": "message_start", "message": {**message, "content": [], "stop_reason": None,
                                                          "usage": {"input_tokens": input_tokens, "output_tokens": 1}}},
                    "message_start")
        block = content[0]
        if block["type"] == "tool_use":
            self._event({"type": "content_block_start", "index": 0, "content_block": {**block, "input": {}}},
                        "content_block_start")
            self._event({"type": "content_block_delta", "index": 0,
                         "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}},
                        "content_block_delta")
        else:
            self._event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                        "content_block_start")
            pieces, interval = (reply["chunks"], reply["interval"]) if reply["kind"] == "stream" else ([answer], 0)
            for piece in pieces:
                self._event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
                            "content_block_delta")
                if interval and self.server.closing.wait(interval):
                    return
        self._event({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self._event({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                     "usage": {"output_tokens": output_tokens}}, "message_delta")
        self._event({"type": "message_stop"}, "message_stop")


class LLMServer(ThreadingHTTPServer):
    """The offline provider on 127.0.0.1 (or another loopback ``host``; port 0: a free one),
    serving from its own thread."""

    daemon_threads = True

    def __init__(self, port: int = 0, verbose: bool = False, host: str = "127.0.0.1", latency: float = 0.0) -> None:
        """``latency``: the seconds every answer takes, as a real model's do."""
        super().__init__((host, port), _Handler)
        self.verbose = verbose
        self.latency = latency
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._replies: list[dict[str, Any]] = []
        self.requests: list[SeenRequest] = []
        self.in_flight = 0              # model requests being answered now
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def start(self) -> "LLMServer":
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def script(self, *replies: dict[str, Any]) -> None:
        """Queue replies; each goes to the next request (for its ``model``, when it names one)."""
        with self._lock:
            self._replies.extend(replies)

    def next_reply(self, request: SeenRequest) -> dict[str, Any]:
        with self._lock:
            for i, reply in enumerate(self._replies):
                if reply.get("model") in (None, request.model):
                    return self._replies.pop(i)
        return default_reply(request)

    @contextmanager
    def answering(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def record(self, request: SeenRequest) -> None:
        """A request that is being answered (a hung one, or one whose caller left while it
        waited, is not recorded)."""
        with self._lock:
            if not self.closing.is_set():
                self.requests.append(request)

    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self.requests.clear()

    def close(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8766)
    server = LLMServer(parser.parse_args().port, verbose=True)
    print(f"offline model provider on {server.url} (OpenAI: {server.url}/v1, Anthropic: {server.url})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.closing.set()
        server.server_close()


if __name__ == "__main__":
    main()
