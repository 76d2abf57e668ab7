"""Files a health check reads: a process that is doing its work touches one in the data
directory every few seconds (docker-compose.yml compares its age with a limit), so the check
starts no Python that imports Celery and the app.

- ``worker.alive``: touched from a worker's event loop while its consumer takes tasks (not
  while it reconnects to the broker), by ``Consuming``, a consumer bootstep.
- ``beat.alive``: touched on every tick of the scheduler (worker/beat.py).
"""
from __future__ import annotations

from celery import bootsteps

from orchestrator.config import get_settings

WORKER_FILE = "worker.alive"
BEAT_FILE = "beat.alive"
INTERVAL_SECONDS = 5.0


def touch(name: str) -> None:
    alive = get_settings().data_dir / name
    try:
        alive.touch()
    except FileNotFoundError:          # the data directory is new
        alive.parent.mkdir(parents=True, exist_ok=True)
        alive.touch()


class Consuming(bootsteps.StartStopStep):
    """Touches ``worker.alive`` every INTERVAL_SECONDS once the task consumer has started;
    stopped with it (a lost broker connection stops the consumer's steps until it is back)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c, **kwargs) -> None:
        self.timer_entry = None
        super().__init__(c, **kwargs)

    def start(self, c) -> None:
        touch(WORKER_FILE)
        self.timer_entry = c.timer.call_repeatedly(INTERVAL_SECONDS, touch, (WORKER_FILE,))

    def stop(self, c) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    shutdown = stop
