"""celery beat backed by ``scheduled_workflows``: ``celery -A worker.celery_app beat`` (the app's
default scheduler, or ``-S worker.beat:DatabaseScheduler``).

The scheduler keeps no state: every tick fires what is due through
``orchestrator.schedules.firing.fire_due``, which reads the schedules afresh, so new, changed,
paused and deleted schedules take effect within a tick. Any number of beat processes may run;
the database lets each slot fire once. Each tick touches ``beat.alive`` in the data directory,
which a health check reads (worker/alive.py).
"""
from __future__ import annotations

import logging

from celery.beat import Scheduler

from orchestrator.db.types import utcnow
from orchestrator.schedules.firing import fire_due
from worker import alive
from worker.tasks import engine_of

log = logging.getLogger(__name__)


class DatabaseScheduler(Scheduler):
    #: The longest sleep between two looks at the database, in seconds.
    max_interval = 1.0

    def tick(self, *args, **kwargs) -> float:
        """Fire due schedules, then the app's own ``beat_schedule`` entries, if any."""
        alive.touch(alive.BEAT_FILE)
        return min(self._fire(), super().tick(*args, **kwargs))

    def _fire(self) -> float:
        try:
            wake = fire_due(engine_of(self.app))
        except Exception:  # the database is away: log it and try again next tick
            log.exception("firing schedules failed; retrying in %ss", self.max_interval)
            return self.max_interval
        if wake is None:
            return self.max_interval
        delay = (wake - utcnow()).total_seconds()
        return min(delay, self.max_interval) if delay > 0 else self.max_interval
