"""Server-sent events: an execution's log as it grows, until the execution has ended.

Each poll is a short session of its own; no connection is held between polls. A stream
holds a server thread for as long as it is open, so a process serves at most
``max_event_streams`` at once and answers 503 past that: the other threads stay free for
every other request (a few streams used to starve the API, /healthz included).
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Iterator

from flask import Response, current_app, request
from flask_smorest import abort

from api.resources.executions.schemas import EventSchema
from orchestrator.db import User
from orchestrator.engine import Engine
from orchestrator.services import executions
from orchestrator.services.pagination import MAX_LIMIT
from orchestrator.states import EXECUTION_TERMINAL

MEDIA_TYPE = "text/event-stream"
POLL_SECONDS = 0.2
KEEPALIVE_SECONDS = 15.0


def wants_stream() -> bool:
    return request.accept_mimetypes.best_match(["application/json", MEDIA_TYPE]) == MEDIA_TYPE


def _slots(limit: int) -> threading.BoundedSemaphore:
    """This app's open-stream slots."""
    return current_app.extensions.setdefault("event_stream_slots", threading.BoundedSemaphore(limit))


def event_stream(engine: Engine, owner: User, execution_id: uuid.UUID, after: int) -> Response:
    with engine.sessions() as session:
        executions.get_execution(session, owner, execution_id)      # 404 before the stream starts
    slots = _slots(engine.settings.max_event_streams)
    if not slots.acquire(blocking=False):
        abort(503, message=f"too many open event streams (at most {engine.settings.max_event_streams} per process); "
                           "retry later, or poll this URL with Accept: application/json",
              headers={"Retry-After": "5"})
    response = Response(_events(engine, owner, execution_id, after), mimetype=MEDIA_TYPE,
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.call_on_close(slots.release)   # when the server closes the response, however it ends
    return response


def _events(engine: Engine, owner: User, execution_id: uuid.UUID, after: int) -> Iterator[str]:
    schema = EventSchema()
    last_sent = time.monotonic()
    while True:
        with engine.sessions() as session:
            # The status first: the events read next include every event up to that status.
            ended = executions.get_execution(session, owner, execution_id).status in EXECUTION_TERMINAL
            page = executions.list_events(session, owner, execution_id, after=after, limit=MAX_LIMIT)
        for event in page.items:
            yield f"id: {event.seq}\nevent: {event.event_type}\ndata: {schema.dumps(event)}\n\n"
            after = event.seq
        if page.next_cursor:
            continue
        if ended:
            return
        now = time.monotonic()
        if page.items:
            last_sent = now
        elif now - last_sent >= KEEPALIVE_SECONDS:
            yield ": keepalive\n\n"
            last_sent = now
        time.sleep(POLL_SECONDS)
