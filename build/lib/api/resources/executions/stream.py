"""Server-sent events: an execution's log as it grows, until the execution has ended.

Each poll is a short session of its own; no connection is held between polls.
"""
from __future__ import annotations

import time
import uuid
from typing import Iterator

from flask import Response, request

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


def event_stream(engine: Engine, owner: User, execution_id: uuid.UUID, after: int) -> Response:
    with engine.sessions() as session:
        executions.get_execution(session, owner, execution_id)      # 404 before the stream starts
    return Response(_events(engine, owner, execution_id, after), mimetype=MEDIA_TYPE,
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


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
