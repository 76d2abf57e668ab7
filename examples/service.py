"""A small local news service for the examples: runs offline on 127.0.0.1.

    python examples/service.py [--port 8765]

GET /articles?topic=T   a few articles on a topic (JSON)
GET /flaky?key=K&fail=N fails N times per key with 503, then answers 200
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ARTICLES = {
    "agents": [{"title": "Agents that plan before they act", "words": 1800},
               {"title": "Tool use without the foot-guns", "words": 1200}],
    "python": [{"title": "What is new in the typing module", "words": 900},
               {"title": "Profiling a Celery worker", "words": 1500},
               {"title": "SQLAlchemy 2 in practice", "words": 2100}],
    "databases": [{"title": "SKIP LOCKED as a queue", "words": 1100}],
}
HITS: Counter[str] = Counter()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        print(f"service: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)

    def _json(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/articles":
            topic = query.get("topic", "")
            if topic not in ARTICLES:
                return self._json(404, {"error": f"no topic {topic!r}"})
            return self._json(200, {"topic": topic, "articles": ARTICLES[topic]})
        if url.path == "/flaky":
            key = query.get("key", "default")
            HITS[key] += 1
            if HITS[key] <= int(query.get("fail", "2")):
                return self._json(503, {"error": "busy, try again", "hit": HITS[key]})
            return self._json(200, {"status": "ok", "hit": HITS[key]})
        return self._json(404, {"error": "unknown path"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8765)
    port = parser.parse_args().port
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"service: listening on http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
