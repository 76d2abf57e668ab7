"""Sending the notifications that are due (the workers' notifier calls ``deliver_due``).

A delivery is claimed by one statement that pushes its ``next_attempt_at`` a lease ahead
and counts the attempt, so several notifiers never send it at once, and one whose notifier
died is sent again once the lease has passed (at least once: receivers tell repeats by
``Orchestrator-Delivery``). It is sent outside any transaction, through the address rule
(``safe_request``, without following redirects), with a body signed as inbound webhooks are
(``orchestrator.security.signing``), then recorded: delivered (2xx); due again after a
backoff (a network error, a timeout, 5xx, 408, 429), until ``notify_max_attempts``; or
failed at once (another status, an address the rule refuses).
"""
from __future__ import annotations

import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from orchestrator.crypto import open_field
from orchestrator.db import NotificationDelivery, NotificationTarget
from orchestrator.db.types import utcnow
from orchestrator.engine import Engine
from orchestrator.security.network import RETRYABLE_CLIENT_ERRORS, NetworkError, safe_request
from orchestrator.security.signing import HEADER, sign
from orchestrator.states import DeliveryStatus

log = logging.getLogger(__name__)
BATCH = 20
SENDERS = 4                                 # deliveries sent at once by one notifier
TIMEOUT_SECONDS = 10.0
LEASE = timedelta(seconds=60)               # longer than a send and its record
MAX_BACKOFF_SECONDS = 3600.0
USER_AGENT = "orchestrator-notifications/1"

D = NotificationDelivery


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    attempts: int
    event: str
    payload: Any
    url: str
    secret: str


@dataclass(frozen=True)
class Outcome:
    status: DeliveryStatus
    status_code: int | None = None
    error: str | None = None


def deliver_due(engine: Engine) -> int:
    """Claim and send up to BATCH due deliveries; how many were claimed."""
    claimed = _claim(engine, utcnow())
    if claimed:
        with ThreadPoolExecutor(max_workers=min(SENDERS, len(claimed)), thread_name_prefix="notify") as pool:
            list(pool.map(lambda delivery: _record(engine, delivery, send(delivery, engine.settings.http_allow_private)),
                          claimed))
    return len(claimed)


def _claim(engine: Engine, now: datetime) -> list[Claimed]:
    # Materialised: PostgreSQL would otherwise run the locking subquery again as rows change,
    # and claim more than BATCH. SQLite serialises writers (and has no FOR UPDATE).
    due = select(D.id).where(D.status == DeliveryStatus.PENDING.value, D.next_attempt_at <= now) \
        .order_by(D.next_attempt_at).limit(BATCH).with_for_update(skip_locked=True) \
        .cte("due").prefix_with("MATERIALIZED", dialect="postgresql")
    with engine.sessions.begin() as session:
        rows = session.execute(
            update(D).where(D.id.in_(select(due.c.id)), D.status == DeliveryStatus.PENDING.value,
                            D.next_attempt_at <= now)
            .values(attempts=D.attempts + 1, next_attempt_at=now + LEASE, updated_at=now)
            .returning(D.id, D.attempts, D.event, D.payload, D.target_id)).all()
        targets = {t.id: t for t in session.scalars(select(NotificationTarget).where(
            NotificationTarget.id.in_({row.target_id for row in rows})))} if rows else {}
        return [Claimed(row.id, row.attempts, row.event, row.payload,
                        open_field(engine.keyring, targets[row.target_id], "url").decode(),
                        open_field(engine.keyring, targets[row.target_id], "secret").decode()) for row in rows]


def send(delivery: Claimed, allow_private: bool) -> Outcome:
    """POST the signed body once; what came of it."""
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, HEADER: sign(delivery.secret, body),
               "Orchestrator-Event": delivery.event, "Orchestrator-Delivery": str(delivery.id),
               "Idempotency-Key": str(delivery.id)}
    try:
        response = safe_request("POST", delivery.url, allow_private=allow_private, timeout=TIMEOUT_SECONDS,
                                headers=headers, body=body, follow_redirects=False)
    except NetworkError as exc:
        return Outcome(DeliveryStatus.PENDING if exc.retryable else DeliveryStatus.FAILED, error=str(exc))
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(DeliveryStatus.DELIVERED, code)
    if code >= 500 or code in RETRYABLE_CLIENT_ERRORS:
        return Outcome(DeliveryStatus.PENDING, code, f"answered {code} {response.reason}")
    hint = ": redirects are not followed; give the URL that answers" if 300 <= code < 400 else ""
    return Outcome(DeliveryStatus.FAILED, code, f"answered {code} {response.reason}{hint}")


def _record(engine: Engine, delivery: Claimed, outcome: Outcome) -> None:
    """Write what came of the attempt, unless another notifier has claimed it since (its lease ran out)."""
    now = utcnow()
    values: dict[str, Any] = {"status": outcome.status.value, "last_status_code": outcome.status_code,
                              "last_error": outcome.error, "updated_at": now}
    settings = engine.settings
    if outcome.status is DeliveryStatus.DELIVERED:
        values.update(delivered_at=now, next_attempt_at=None)
    elif outcome.status is DeliveryStatus.PENDING and delivery.attempts >= settings.notify_max_attempts:
        values.update(status=DeliveryStatus.FAILED.value, next_attempt_at=None,
                      last_error=f"{outcome.error} (attempt {delivery.attempts} of {settings.notify_max_attempts}; "
                                 "no more)")
    elif outcome.status is DeliveryStatus.PENDING:
        delay = min(MAX_BACKOFF_SECONDS, settings.notify_backoff_seconds * 2 ** (delivery.attempts - 1))
        values["next_attempt_at"] = now + timedelta(seconds=delay)
    else:
        values["next_attempt_at"] = None
    if values["status"] != DeliveryStatus.DELIVERED.value:
        log.warning("notification %s (%s), attempt %d: %s", delivery.id, delivery.event, delivery.attempts,
                    values["last_error"])
    with engine.sessions.begin() as session:
        session.execute(update(D).where(D.id == delivery.id, D.attempts == delivery.attempts).values(**values))
