"""Engine figures against the raw Celery floor, on the same PostgreSQL, Redis and workers.

    .venv/bin/python -m bench.engine [--runs 3] [--workers 2] [--concurrency 1] [--pool prefork]
                                     [--prefetch 1]

Prints, with medians over --runs: the raw floor (a chain of no-op tasks each committing one
row: ms per hop; a burst of no-op tasks: tasks/s) and the engine's figures (a 40-node
linear workflow end to end and ms per hop; submit to first node start p50/p99; node steps/s
over 20 concurrent 22-node fan-outs; the same with 1, 2 and 4 worker processes), each with
its ratio to the floor.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import bindparam, func, select, text

from orchestrator.db.migrate import upgrade_database
from orchestrator.config import get_settings
from orchestrator.composition import build_engine
from orchestrator.crypto import generate_key
from orchestrator.db import Execution, ExecutionStep
from orchestrator.db.session import get_engine
from orchestrator.engine import Engine
from orchestrator.services import api_keys, executions, workflows
from tests.support.servers import Servers
from tests.support.workers import Workers
from worker.celery_app import create_celery
from worker.dispatch import CeleryDispatcher


# Both sides are watched the same way: one cheap query every POLL seconds on a connection held
# open, so that the watching takes as little as possible of the cores the workers use.
POLL = 0.005


def poll(db, query, params: dict, done, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    with db.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        while time.monotonic() < deadline:
            if done(conn.execute(query, params).scalar()):
                return time.monotonic()
            time.sleep(POLL)
    raise TimeoutError(f"not done after {timeout}s: {params}")


def wait_rows(db, run_id: str, count: int) -> float:
    return poll(db, text("SELECT count(*) FROM bench_hops WHERE run_id = :r"), {"r": run_id},
                lambda n: n >= count)


def raw_chain_ms_per_hop(app, db, hops: int) -> float:
    run_id = uuid.uuid4().hex
    start = time.monotonic()
    app.send_task("bench.hop", args=[run_id, hops])
    return (wait_rows(db, run_id, hops) - start) * 1000 / hops


def raw_burst_tasks_per_s(app, db, n: int) -> float:
    run_id = uuid.uuid4().hex
    start = time.monotonic()
    with app.producer_or_acquire() as producer:
        for i in range(n):
            app.send_task("bench.noop", args=[run_id, i], producer=producer)
    return n / (wait_rows(db, run_id, n) - start)


def linear(n: int) -> dict:
    return {"name": f"linear-{n}", "nodes": [{"id": f"n{i}", "type": "noop"} for i in range(n)],
            "edges": [{"source": f"n{i}", "target": f"n{i + 1}"} for i in range(n - 1)]}


def wait_done(engine: Engine, ids: list[uuid.UUID]) -> float:
    return poll(engine.db, select(func.count()).select_from(Execution).where(
        Execution.id.in_(bindparam("ids", expanding=True)), Execution.status.in_(["pending", "running"])),
        {"ids": ids}, lambda n: n == 0)


def engine_chain(engine: Engine, owner, workflow_id, hops: int) -> tuple[float, float]:
    start = time.monotonic()
    execution, _ = executions.submit(engine, owner, workflow_id)
    elapsed = wait_done(engine, [execution.id]) - start
    with engine.sessions() as s:
        assert s.get(Execution, execution.id).status == "completed"
    return elapsed * 1000, elapsed * 1000 / hops


def first_start_latencies(engine: Engine, owner, workflow_id, n: int) -> list[float]:
    ids = []
    for _ in range(n):
        ids.append(executions.submit(engine, owner, workflow_id)[0].id)
        time.sleep(0.02)  # one at a time: latency, not queueing
    wait_done(engine, ids)
    with engine.sessions() as s:
        rows = s.execute(select(Execution.created_at, ExecutionStep.started_at)
                         .join(ExecutionStep, ExecutionStep.execution_id == Execution.id)
                         .where(Execution.id.in_(ids), ExecutionStep.node_id == "n0")).all()
    return sorted((started - created).total_seconds() * 1000 for created, started in rows)


def fan_out(branches: int) -> dict:
    """root -> ``branches`` parallel nodes -> join: ``branches + 2`` nodes."""
    middle = [f"b{i}" for i in range(branches)]
    return {"name": f"fan-out-{branches}", "nodes": [{"id": "root", "type": "noop"}, {"id": "join", "type": "noop"},
                                                     *({"id": b, "type": "noop"} for b in middle)],
            "edges": [*({"source": "root", "target": b} for b in middle),
                      *({"source": b, "target": "join"} for b in middle)]}


def steps_per_s(engine: Engine, owner, workflow_id, executions_n: int, nodes: int) -> float:
    """Node steps per second while ``executions_n`` executions run at once."""
    start = time.monotonic()
    ids = [executions.submit(engine, owner, workflow_id)[0].id for _ in range(executions_n)]
    return executions_n * nodes / (wait_done(engine, ids) - start)


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=1, help="pool size of each worker process")
    parser.add_argument("--pool", default="prefork", choices=("prefork", "threads"), help="each worker's pool")
    parser.add_argument("--prefetch", type=int, default=1, help="worker prefetch multiplier")
    args = parser.parse_args()

    servers = Servers()
    tmp = Path(tempfile.mkdtemp(prefix="orch-bench-"))
    env = {"DATABASE_URL": servers.create_database(), "BROKER_URL": servers.claim_redis_db(),
           "ORCHESTRATOR_ENCRYPTION_KEYS": generate_key(), "ORCHESTRATOR_DATA_DIR": str(tmp)}
    os.environ.update(env)
    get_settings.cache_clear()
    settings = get_settings()
    upgrade_database()
    db = get_engine(settings)
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE bench_hops (id serial PRIMARY KEY, run_id text, n int)"))
        conn.execute(text("CREATE INDEX ON bench_hops (run_id)"))
    app = create_celery(settings)
    engine = build_engine(settings, CeleryDispatcher(app))
    with engine.sessions() as s, s.begin():
        owner = api_keys.get_or_create_user(s, "bench@example.com")
        chain40 = workflows.create_workflow(s, engine.keyring, owner, linear(40)).id
        fan22 = workflows.create_workflow(s, engine.keyring, owner, fan_out(20)).id
        single = workflows.create_workflow(s, engine.keyring, owner, linear(1)).id
    workers = Workers(env, tmp)

    def start_workers(n: int) -> None:
        for i in range(n):
            workers.start(f"bench{i}", concurrency=args.concurrency, pool=args.pool, app="bench.app",
                          options=("--prefetch-multiplier", str(args.prefetch)))

    try:
        start_workers(args.workers)
        raw_chain_ms_per_hop(app, db, 10)                          # warm up both paths
        engine_chain(engine, owner, chain40, 40)
        figures: dict[str, list[float]] = {k: [] for k in
                                           ("raw_hop", "raw_burst", "chain_ms", "hop", "p50", "p99", "fan_out")}
        for run in range(args.runs):
            figures["raw_hop"].append(raw_chain_ms_per_hop(app, db, 40))
            figures["raw_burst"].append(raw_burst_tasks_per_s(app, db, 500))
            total, per_hop = engine_chain(engine, owner, chain40, 40)
            figures["chain_ms"].append(total)
            figures["hop"].append(per_hop)
            latencies = first_start_latencies(engine, owner, single, 50)
            figures["p50"].append(percentile(latencies, 50))
            figures["p99"].append(percentile(latencies, 99))
            figures["fan_out"].append(steps_per_s(engine, owner, fan22, 20, 22))
            print(f"run {run + 1}/{args.runs}: " + ", ".join(f"{k}={v[-1]:.1f}" for k, v in figures.items()),
                  flush=True)
        scaling = {}
        for n in (1, 2, 4):
            workers.stop_all()
            start_workers(n)
            steps_per_s(engine, owner, fan22, 2, 22)               # warm up the new workers
            scaling[n] = statistics.median(steps_per_s(engine, owner, fan22, 20, 22) for _ in range(args.runs))
            print(f"{n} worker process(es): {scaling[n]:.0f} steps/s", flush=True)
    finally:
        workers.stop_all()
        db.dispose()
        servers.close()
    m = {k: statistics.median(v) for k, v in figures.items()}
    # Each run's ratio pairs figures measured seconds apart, so a machine whose speed
    # drifts (shared cores) moves both sides; the median of those ratios is the figure to quote.
    hop_ratios = [e / r for e, r in zip(figures["hop"], figures["raw_hop"], strict=True)]
    rate_ratios = [e / r for e, r in zip(figures["fan_out"], figures["raw_burst"], strict=True)]
    print(f"\nmedians over {args.runs} runs, {args.workers} worker processes ({args.pool}, concurrency "
          f"{args.concurrency}, prefetch multiplier {args.prefetch}), "
          "PostgreSQL + Redis; ratios: median of each run's ratio (per-run in brackets)")
    print(f"raw Celery chain hop (commit one row):    {m['raw_hop']:7.2f} ms")
    print(f"raw Celery burst (no-op, commit one row): {m['raw_burst']:7.0f} tasks/s")
    print(f"engine 40-node chain end to end:          {m['chain_ms']:7.0f} ms")
    print(f"engine per hop:                           {m['hop']:7.2f} ms   ({statistics.median(hop_ratios):.2f}x raw "
          f"hop {_each(hop_ratios)})")
    print(f"submit -> first node start p50 / p99:     {m['p50']:7.2f} / {m['p99']:.2f} ms")
    print(f"node steps/s, 20 concurrent 22-node fan-outs: {m['fan_out']:5.0f}   "
          f"({statistics.median(rate_ratios):.2f}x raw burst {_each(rate_ratios)})")
    print("node steps/s by worker processes: " + ", ".join(f"{n}: {v:.0f}" for n, v in scaling.items()))


def _each(ratios: list[float]) -> str:
    return "[" + " ".join(f"{r:.2f}" for r in ratios) + "]"


if __name__ == "__main__":
    main()
