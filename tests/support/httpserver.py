"""A real local HTTP server for http_request tests (127.0.0.1, a free port, its own thread); it
counts every request (``hits``), so a test can tell that nothing reached it, and keeps each
one's method, path, headers and body (``received``)."""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: "LocalHTTPServer"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        key = query.get("key", url.path)
        self.server.hits[key] += 1
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append(Received(self.command, self.path, dict(self.headers), body))
        self.server.idempotency_keys.append(self.headers.get("Idempotency-Key"))
        self.server.authorizations.append(self.headers.get("Authorization"))
        if url.path == "/slow":
            time.sleep(float(query.get("s", "1")))
            return self._reply(200, {"slept": float(query.get("s", "1"))})
        if url.path == "/flaky":
            if self.server.hits[key] <= int(query.get("fail", "1")):
                return self._reply(int(query.get("status", "503")), {"error": "try later"})
            return self._reply(200, {"ok": True, "hit": self.server.hits[key]})
        if url.path.startswith("/status/"):
            return self._reply(int(url.path.rsplit("/", 1)[1]), {"status": "as asked"})
        return self._reply(200, {"path": url.path, "query": query, "hit": self.server.hits[key]})

    do_POST = do_GET


class LocalHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.hits: Counter[str] = Counter()
        self.idempotency_keys: list[str | None] = []
        self.authorizations: list[str | None] = []
        self.received: list[Received] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()
