"""The worker app plus the raw-Celery floor tasks: `celery -A bench.app worker`."""
from sqlalchemy import text

from orchestrator.config import get_settings
from orchestrator.db.session import get_engine
from worker.celery_app import create_celery

INSERT = text("INSERT INTO bench_hops (run_id, n) VALUES (:run_id, :n)")
app = create_celery(get_settings())


def _commit_row(run_id: str, n: int) -> None:
    with get_engine().begin() as conn:
        conn.execute(INSERT, {"run_id": run_id, "n": n})


@app.task(name="bench.hop")
def hop(run_id: str, remaining: int) -> None:
    """One hop of a raw chain: commit a row, send the next hop."""
    _commit_row(run_id, remaining)
    if remaining > 1:
        hop.delay(run_id, remaining - 1)


@app.task(name="bench.noop")
def noop(run_id: str, n: int) -> None:
    _commit_row(run_id, n)
