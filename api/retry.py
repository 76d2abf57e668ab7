"""A request that meets a transient database error (a deadlock, a connection lost, a server
restarting) is run again on a fresh connection while that is safe, instead of answering 503:

- a read (GET, HEAD) always: it changes nothing;
- a change whose view has not yet committed anything: its transaction was rolled back whole.

A change that committed one transaction and then met the error answers 503 as before: the
first transaction stands, and running the view again would repeat it. (Engine transactions,
such as a cancel, are run again by the engine itself.) The API's pool also tests each
connection before use (``pool_pre_ping``): after a database restart no request meets a
dropped pooled connection at all, for one cheap round trip per request.
"""
from __future__ import annotations

from flask import Flask, g, has_request_context, request
from sqlalchemy import Engine, event

from orchestrator.db.transient import run_again

READS = frozenset({"GET", "HEAD"})
# Longer than a failover's blip; a client kept waiting longer is better told 503.
SECONDS = 5.0


def _committing(_conn) -> None:
    if has_request_context():
        g.committed = True


def track_commits(db: Engine) -> None:
    """Note, per request, that a transaction of its view has committed (or tried to)."""
    if not event.contains(db, "commit", _committing):
        event.listen(db, "commit", _committing)


def _safe() -> bool:
    return request.method in READS or not g.get("committed", False)


class RetryingFlask(Flask):
    def dispatch_request(self):
        g.committed = False
        return run_again(super().dispatch_request, f"{request.method} {request.path}", SECONDS, _safe)
