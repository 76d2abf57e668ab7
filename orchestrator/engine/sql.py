"""The engine's reads and writes of executions, steps and events, in SQLAlchemy Core.

Everything the hot path sends to the database is here, and nothing here knows a workflow.
``Statements`` is what both databases share; ``PostgresStatements`` and ``SQLiteStatements``
are the one seam where they differ:

- the claim: PostgreSQL does it in one statement (lock the execution row, move the step
  ``queued -> running``, count the step, append its events) outside any explicit transaction;
  SQLite in one ``BEGIN IMMEDIATE`` transaction of four statements;
- the writes of a transaction (the execution row, every step it moved, its events): on
  PostgreSQL one statement of data-modifying CTEs fed by JSON record sets, on SQLite one
  statement per row group.

Every step write names the status and attempt it was read in; a step changed since (a
concurrent claim, a recovered lease) is not overwritten and the transaction raises
``StaleStep``.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import JSON, Connection, bindparam, func, insert, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

from orchestrator.db import Execution, ExecutionEvent, ExecutionStep
from orchestrator.db.types import UTCDateTime
from orchestrator.states import STEP_OPEN, ExecutionStatus as E, StepStatus as S

EXECUTIONS = Execution.__table__
STEPS = ExecutionStep.__table__
EVENTS = ExecutionEvent.__table__

# What transitions and decisions read of an execution and of a step. JSON and long text
# columns are read only where they are needed (``input``, ``output``).
EXECUTION_COLUMNS = tuple(c for c in EXECUTIONS.c if c.name not in ("input", "output", "metadata", "error_traceback"))
STEP_COLUMNS = tuple(c for c in STEPS.c if c.name not in ("input", "output", "error_traceback", "error_message"))
OPEN = tuple(s.value for s in STEP_OPEN)
# A claim that waited for the execution's lock while the step was queued runs again, up to
# this many statements in all; past that, other transactions keep moving the execution, and
# the sweeper sends the step's message again.
CLAIM_TRIES = 3


class StaleStep(RuntimeError):
    """A step is no longer in the state this transaction read: nothing was written; the
    caller rolls back and drops its message or result, as a duplicate is dropped."""


class Row:
    """A row read under the execution lock. Attributes read like the ORM's; ``set`` records
    what changed, which the transaction writes once, at commit."""

    __slots__ = ("values", "changes")

    def __init__(self, values: dict[str, Any]):
        self.values = values
        self.changes: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def set(self, **fields: Any) -> None:
        self.values.update(fields)
        self.changes.update(fields)


class StepWrite:
    """One step's pending UPDATE: the state it was read in, and its new values."""

    __slots__ = ("step_id", "was", "was_attempt", "values")

    def __init__(self, step_id: uuid.UUID, was: str, was_attempt: int):
        self.step_id, self.was, self.was_attempt = step_id, was, was_attempt
        self.values: dict[str, Any] = {}


def _execution_key(name: str) -> str:
    """Attribute names of the model (``meta``) for column names (``metadata``)."""
    return "meta" if name == "metadata" else name


def _jsonable(value: Any) -> Any:
    if isinstance(value, (uuid.UUID, datetime)):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class Statements:
    """What both databases share."""

    name = "generic"

    # Whether ``claim`` is one statement that needs no explicit transaction.
    claims_in_one_statement = False
    # Whether a transaction may send its messages before it commits (see ``Engine.execution``).
    sends_before_commit = False

    def lock_execution(self, conn: Connection, execution_id: uuid.UUID) -> Row | None:
        row = conn.execute(self._lock, {"execution_id": execution_id}).mappings().one_or_none()
        return None if row is None else Row({_execution_key(k): v for k, v in row.items()})

    def lock_and_read(self, conn: Connection, execution_id: uuid.UUID,
                      node_ids: Iterable[str]) -> tuple[Row | None, dict[str, Row], int]:
        """The execution locked, with these steps as they are once the lock is held, and the
        count of open steps."""
        execution = self.lock_execution(conn, execution_id)
        if execution is None:
            return None, {}, 0
        steps, open_count = self.steps(conn, execution_id, node_ids)
        return execution, steps, open_count

    def execution_fields(self, conn: Connection, execution_id: uuid.UUID, *names: str) -> dict[str, Any]:
        """Columns the lock leaves out (``input``, ``output``, ...), read when needed."""
        row = conn.execute(select(*(EXECUTIONS.c[n] for n in names)).where(EXECUTIONS.c.id == execution_id)).one()
        return dict(zip(names, row, strict=True))

    def steps(self, conn: Connection, execution_id: uuid.UUID, node_ids: Iterable[str] | None = None,
              with_output: bool = False) -> tuple[dict[str, Row], int]:
        """Step rows (all, or these nodes') and how many steps of the execution are open, in one
        statement; read after the execution lock, so they are current."""
        columns = [*STEP_COLUMNS, STEPS.c.output] if with_output else list(STEP_COLUMNS)
        open_count = (select(func.count()).select_from(STEPS)
                      .where(STEPS.c.execution_id == execution_id, STEPS.c.status.in_(OPEN)).scalar_subquery())
        if node_ids is None:
            query = select(open_count.label("open_steps"), *columns).where(STEPS.c.execution_id == execution_id)
        else:
            ids = list(node_ids)
            if not ids:
                return {}, conn.execute(select(open_count)).scalar_one()
            query = select(open_count.label("open_steps"), *columns).where(
                STEPS.c.execution_id == execution_id, STEPS.c.node_id.in_(ids))
        rows = conn.execute(query).mappings().all()
        if not rows:
            return {}, conn.execute(select(open_count)).scalar_one()
        steps = {}
        for row in rows:
            values = dict(row)
            values.pop("open_steps")
            steps[row["node_id"]] = Row(values)
        return steps, rows[0]["open_steps"]

    def step_by_id(self, conn: Connection, step_id: uuid.UUID) -> Row | None:
        row = conn.execute(select(*STEP_COLUMNS).where(STEPS.c.id == step_id)).mappings().one_or_none()
        return None if row is None else Row(dict(row))

    def insert_steps(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        conn.execute(insert(STEPS), rows)

    def renew_lease(self, conn: Connection, step_id: uuid.UUID, attempt: int, turn: int, until: datetime) -> bool:
        written = conn.execute(update(STEPS).where(
            STEPS.c.id == step_id, STEPS.c.status == S.RUNNING.value, STEPS.c.attempt == attempt,
            STEPS.c.turn == turn).values(lease_expires_at=until))
        return written.rowcount == 1

    # Built once: the hot path pays no statement construction.
    _lock = select(*EXECUTION_COLUMNS).where(EXECUTIONS.c.id == bindparam("execution_id"))

    def uptime(self, conn: Connection) -> float | None:
        """Seconds since the database server started, where there is a server to restart."""
        return None

    def write(self, conn: Connection, execution: Row, steps: list[StepWrite], events: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def claim(self, conn: Connection, params: dict[str, Any]) -> dict[str, Any] | None:
        raise NotImplementedError


class SQLiteStatements(Statements):
    """SQLite serialises writers (``BEGIN IMMEDIATE``, see ``db.session``): a lock is a plain read."""

    name = "sqlite"

    def write(self, conn: Connection, execution: Row, steps: list[StepWrite], events: list[dict[str, Any]]) -> None:
        for step in steps:
            written = conn.execute(update(STEPS).where(
                STEPS.c.id == step.step_id, STEPS.c.status == step.was, STEPS.c.attempt == step.was_attempt,
            ).values(step.values))
            if written.rowcount != 1:
                raise StaleStep(f"step {step.step_id} is no longer {step.was} attempt {step.was_attempt}")
        if execution.changes:
            conn.execute(update(EXECUTIONS).where(EXECUTIONS.c.id == execution.id).values(
                {("metadata" if k == "meta" else k): v for k, v in execution.changes.items()}))
        if events:
            conn.execute(insert(EVENTS), events)

    def claim(self, conn: Connection, params: dict[str, Any]) -> dict[str, Any] | None:
        execution = conn.execute(self._lock, {"execution_id": params["execution_id"]}).mappings().one_or_none()
        if execution is None or execution["status"] not in (E.PENDING.value, E.RUNNING.value):
            return None
        step = conn.execute(update(STEPS).where(
            STEPS.c.id == params["step_id"], STEPS.c.execution_id == params["execution_id"],
            STEPS.c.status == S.QUEUED.value,
            (STEPS.c.not_before.is_(None)) | (STEPS.c.not_before <= params["due"]),
        ).values(status=S.RUNNING.value, started_at=params["now"], worker=params["worker"],
                 celery_task_id=params["task_id"], lease_expires_at=params["lease"], updated_at=params["now"])
            .returning(STEPS.c.node_id, STEPS.c.node_type, STEPS.c.attempt, STEPS.c.turn)).mappings().one_or_none()
        if step is None:
            return None
        was_pending = execution["status"] == E.PENDING.value
        seq = execution["event_seq"] + 1 + was_pending
        conn.execute(update(EXECUTIONS).where(EXECUTIONS.c.id == params["execution_id"]).values(
            status=E.RUNNING.value, event_seq=seq, step_count=execution["step_count"] + 1,
            started_at=execution["started_at"] or params["now"], updated_at=params["now"]))
        events = [_event(params["execution_id"], seq, "step_running", params["now"], step["node_id"], step["attempt"])]
        if was_pending:
            events.insert(0, _event(params["execution_id"], seq - 1, "execution_running", params["now"]))
        conn.execute(insert(EVENTS), events)
        return {**{_execution_key(k): v for k, v in execution.items()}, **step, "status": E.RUNNING.value,
                "step_count": execution["step_count"] + 1}


def _event(execution_id: uuid.UUID, seq: int, event_type: str, at: datetime, node_id: str | None = None,
           attempt: int | None = None, message: str | None = None, data: Any = None) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "execution_id": execution_id, "seq": seq, "event_type": event_type,
            "node_id": node_id, "attempt": attempt, "message": message, "data": data, "created_at": at}


_EVENT_COLUMNS = ("id", "execution_id", "seq", "event_type", "node_id", "attempt", "message", "data", "created_at")
# Execution columns written as JSON (by model attribute name).
_EXECUTION_JSON = frozenset(_execution_key(c.name) for c in EXECUTIONS.c if isinstance(c.type, JSON))
_PG = postgresql.dialect()


def _pg_type(column) -> str:
    return column.type.compile(dialect=_PG) if not hasattr(column.type, "impl") else \
        column.type.impl.compile(dialect=_PG)


def _utc(value: Any) -> Any:
    return value.astimezone(timezone.utc) if value is not None else None


class PostgresStatements(Statements):
    """Row locks and data-modifying CTEs: a claim is one statement, a transaction's writes one more.

    These three statements run on the driver's own cursor: for a fan-in's 22 steps, reading
    through SQLAlchemy's result machinery took about three times the CPU of the statement
    itself. Errors still surface as SQLAlchemy's (``DBAPIError``, the connection invalidated
    when it dropped), as on every other path."""

    name = "postgresql"
    claims_in_one_statement = True
    sends_before_commit = True
    _lock = Statements._lock.with_for_update()

    def __init__(self) -> None:
        self._writes: dict[tuple, str] = {}
        self._step_reads: dict[tuple[bool, bool], str] = {}

    def uptime(self, conn: Connection) -> float | None:
        return conn.execute(text("SELECT extract(epoch FROM now() - pg_postmaster_start_time())")).scalar_one()

    @staticmethod
    def _execute(conn: Connection, statement: str, params: dict[str, Any]):
        """``statement`` (psycopg placeholders) on the driver's cursor, inside ``conn``'s
        transaction; a driver error is raised as SQLAlchemy's."""
        dbapi = conn.dialect.loaded_dbapi
        driver = conn.connection.driver_connection
        try:
            cursor = driver.cursor()
            cursor.execute(statement, params)
            return cursor
        except dbapi.Error as exc:
            dropped = conn.dialect.is_disconnect(exc, driver, None)
            if dropped:     # as SQLAlchemy does: the pool's older connections (the server restarted) go too
                conn.engine.pool._invalidate(conn.connection, exc, _checkin=False)
                conn.invalidate(exc)
            raise DBAPIError.instance(statement, params, exc, dbapi.Error, connection_invalidated=dropped,
                                      dialect=conn.dialect) from None

    # The lock and the read of the steps in one statement. Under READ COMMITTED the steps are
    # read in the statement's snapshot, taken before the lock was granted; the locked row
    # itself is re-read once granted. Every step transition also moves the execution's
    # event_seq, so equal sequence numbers in the snapshot and the locked row mean the steps
    # read are current; otherwise they are read again.
    _lock_and_read = f"""
WITH locked AS (
    SELECT {", ".join(c.name for c in EXECUTION_COLUMNS)} FROM executions WHERE id = %(execution_id)s FOR UPDATE
), snapshot AS (
    SELECT event_seq AS snapshot_seq,
        (SELECT count(*) FROM execution_steps WHERE execution_id = %(execution_id)s
         AND status IN ('pending', 'queued', 'running', 'waiting')) AS open_steps
    FROM executions WHERE id = %(execution_id)s
)
SELECT locked.*, snapshot.*, {", ".join(f"s.{c.name}" for c in STEP_COLUMNS)}
FROM locked CROSS JOIN snapshot
LEFT JOIN execution_steps s ON s.execution_id = %(execution_id)s AND s.node_id = ANY(%(node_ids)s)
"""
    _execution_keys = tuple(_execution_key(c.name) for c in EXECUTION_COLUMNS)
    _step_keys = tuple(c.name for c in STEP_COLUMNS)
    # Timestamps come back in the session's time zone; rows read through SQLAlchemy are UTC.
    _execution_times = tuple(i for i, c in enumerate(EXECUTION_COLUMNS) if isinstance(c.type, UTCDateTime))
    _step_times = tuple(i for i, c in enumerate(STEP_COLUMNS) if isinstance(c.type, UTCDateTime))

    def lock_and_read(self, conn: Connection, execution_id: uuid.UUID,
                      node_ids: Iterable[str]) -> tuple[Row | None, dict[str, Row], int]:
        ids = list(node_ids)
        rows = self._execute(conn, self._lock_and_read, {"execution_id": execution_id, "node_ids": ids}).fetchall()
        if not rows:
            return None, {}, 0
        first, n = rows[0], len(EXECUTION_COLUMNS)
        execution = self._row(self._execution_keys, first[:n], self._execution_times)
        snapshot_seq, open_steps = first[n], first[n + 1]
        if snapshot_seq != execution.event_seq:        # changed while we waited: read again
            steps, open_count = self.steps(conn, execution_id, ids)
            return execution, steps, open_count
        steps = {}
        for row in rows:
            if row[n + 2] is not None:
                step = self._row(self._step_keys, row[n + 2:], self._step_times)
                steps[step.node_id] = step
        return execution, steps, open_steps

    def steps(self, conn: Connection, execution_id: uuid.UUID, node_ids: Iterable[str] | None = None,
              with_output: bool = False) -> tuple[dict[str, Row], int]:
        key = (node_ids is None, with_output)
        statement = self._step_reads.get(key)
        if statement is None:
            columns = ", ".join(f"s.{c}" for c in self._step_keys + (("output",) if with_output else ()))
            which = "" if node_ids is None else " AND s.node_id = ANY(%(node_ids)s)"
            statement = self._step_reads[key] = (
                f"SELECT c.open_steps, {columns} FROM (SELECT count(*) AS open_steps FROM execution_steps "
                f"WHERE execution_id = %(execution_id)s AND status IN ({', '.join(repr(o) for o in OPEN)})) c "
                f"LEFT JOIN execution_steps s ON s.execution_id = %(execution_id)s{which}")
        rows = self._execute(conn, statement, {"execution_id": execution_id,
                                               "node_ids": None if node_ids is None else list(node_ids)}).fetchall()
        keys = self._step_keys + (("output",) if with_output else ())
        steps = {}
        for row in rows:
            if row[1] is not None:
                step = self._row(keys, row[1:], self._step_times)
                steps[step.node_id] = step
        return steps, rows[0][0]

    @staticmethod
    def _row(keys: tuple[str, ...], values: Any, times: tuple[int, ...]) -> Row:
        values = list(values)
        for i in times:
            values[i] = _utc(values[i])
        return Row(dict(zip(keys, values, strict=True)))

    # -- the claim: one statement, run outside an explicit transaction ----------------------
    # The execution row is locked first (the sub-select), as every engine transaction does, so
    # a claim never deadlocks with one; the step is claimed only while it is queued and due and
    # its execution pending or running; the execution counts the step and takes its events.
    # The step is read in the statement's snapshot, taken before the lock was granted: a step
    # queued by the transaction that held the lock (its message left before it committed) is
    # not seen. ``moved`` tells: the locked row's event_seq is not the snapshot's, so ``claim``
    # runs the statement again in a new snapshot.
    _claim = f"""
WITH e AS (
    SELECT id, status, event_seq, step_count, started_at FROM executions
    WHERE id = %(execution_id)s AND status IN ('pending', 'running') FOR UPDATE
), seen AS (
    SELECT event_seq FROM executions WHERE id = %(execution_id)s
), s AS (
    UPDATE execution_steps SET status = 'running', started_at = %(now)s, worker = %(worker)s,
        celery_task_id = %(task_id)s, lease_expires_at = %(lease)s, updated_at = %(now)s
    WHERE id = %(step_id)s AND execution_id = (SELECT id FROM e) AND status = 'queued'
        AND (not_before IS NULL OR not_before <= %(due)s)
    RETURNING node_id, node_type, attempt, turn
), x AS (
    UPDATE executions SET status = 'running', started_at = COALESCE(executions.started_at, %(now)s),
        event_seq = executions.event_seq + CASE WHEN executions.status = 'pending' THEN 2 ELSE 1 END,
        step_count = executions.step_count + 1, updated_at = %(now)s
    FROM s WHERE executions.id = %(execution_id)s
    RETURNING {", ".join(f"executions.{c.name}" for c in EXECUTION_COLUMNS)}
), ev AS (
    INSERT INTO execution_events (id, execution_id, seq, event_type, node_id, attempt, created_at)
    SELECT gen_random_uuid(), x.id, x.event_seq - k.back, k.event_type, k.node_id, k.attempt, %(now)s
    FROM x CROSS JOIN e CROSS JOIN LATERAL (
        SELECT 0 AS back, 'step_running' AS event_type, s.node_id, s.attempt FROM s
        UNION ALL SELECT 1, 'execution_running', NULL, NULL WHERE e.status = 'pending'
    ) k
)
SELECT (SELECT event_seq FROM e) <> (SELECT event_seq FROM seen) AS moved, claimed.*
FROM (SELECT 1) one LEFT JOIN (SELECT x.*, s.node_id, s.node_type, s.attempt, s.turn FROM x CROSS JOIN s) claimed
    ON true
"""

    def claim(self, conn: Connection, params: dict[str, Any]) -> dict[str, Any] | None:
        for _ in range(CLAIM_TRIES):
            row = self._execute(conn, self._claim, params).fetchone()
            if row[1] is not None or not row[0]:
                break
        if row[1] is None:
            return None
        n = len(EXECUTION_COLUMNS)
        claimed = self._row(self._execution_keys, row[1:n + 1], self._execution_times).values
        claimed.update(zip(("node_id", "node_type", "attempt", "turn"), row[n + 1:], strict=True))
        return claimed

    # -- a transaction's writes: one statement -----------------------------------------------

    def write(self, conn: Connection, execution: Row, steps: list[StepWrite], events: list[dict[str, Any]]) -> None:
        groups: dict[tuple[str, ...], list[StepWrite]] = {}
        for step in steps:
            groups.setdefault(tuple(sorted(step.values)), []).append(step)
        changed = tuple(sorted(execution.changes))
        shapes = tuple(groups)
        if not (changed or shapes or events):
            return
        statement = self._writes.get((changed, shapes, bool(events)))
        if statement is None:
            statement = self._writes[(changed, shapes, bool(events))] = self._write_statement(changed, shapes,
                                                                                               bool(events))
        params: dict[str, Any] = {("x_" + k): json.dumps(v, default=_jsonable) if k in _EXECUTION_JSON else v
                                  for k, v in execution.changes.items()}
        if changed:
            params["execution_id"] = execution.id
        for i, shape in enumerate(shapes):
            params[f"ids_{i}"] = [w.step_id for w in groups[shape]]
            params[f"steps_{i}"] = json.dumps([
                {"id": str(w.step_id), "was": w.was, "was_attempt": w.was_attempt,
                 **{k: _jsonable(w.values[k]) for k in shape}} for w in groups[shape]], default=_jsonable)
        if events:
            params["events"] = json.dumps([{k: _jsonable(e[k]) for k in _EVENT_COLUMNS} for e in events],
                                          default=_jsonable)
        counts = self._execute(conn, statement, params).fetchone()
        for i, shape in enumerate(shapes):
            if counts[i] != len(groups[shape]):
                raise StaleStep(f"{len(groups[shape]) - counts[i]} step(s) changed since this transaction read them")

    @staticmethod
    def _write_statement(changed: tuple[str, ...], shapes: tuple[tuple[str, ...], ...], has_events: bool) -> str:
        parts = []
        if changed:
            columns = {key: EXECUTIONS.c["metadata" if key == "meta" else key] for key in changed}
            parts.append("ex AS (UPDATE executions SET " + ", ".join(
                f"{c.name} = CAST(%(x_{k})s AS {_pg_type(c)})" for k, c in columns.items())
                + " WHERE id = %(execution_id)s)")
        for i, shape in enumerate(shapes):
            record = ", ".join(["id uuid", "was text", "was_attempt integer",
                                *(f"{k} {_pg_type(STEPS.c[k])}" for k in shape)])
            parts.append(
                f"u{i} AS (UPDATE execution_steps s SET " + ", ".join(f"{k} = v.{k}" for k in shape)
                + f" FROM jsonb_to_recordset(CAST(%(steps_{i})s AS jsonb)) AS v({record})"
                # The ids again as an array: the planner then finds the rows by primary key; joined
                # only on the record set (estimated at 100 rows) it scanned the whole table.
                f" WHERE s.id = ANY(%(ids_{i})s) AND s.id = v.id AND s.status = v.was"
                " AND s.attempt = v.was_attempt RETURNING s.id)")
        if has_events:
            parts.append(
                "ev AS (INSERT INTO execution_events (" + ", ".join(_EVENT_COLUMNS) + ") SELECT "
                + ", ".join(_EVENT_COLUMNS) + " FROM jsonb_to_recordset(CAST(%(events)s AS jsonb)) AS e("
                "id uuid, execution_id uuid, seq integer, event_type text, node_id text, attempt integer, "
                "message text, data jsonb, created_at timestamptz))")
        counts = ", ".join(f"(SELECT count(*) FROM u{i})" for i in range(len(shapes))) or "0"
        return "WITH " + ", ".join(parts) + " SELECT " + counts


def statements_for(dialect_name: str) -> Statements:
    return PostgresStatements() if dialect_name == "postgresql" else SQLiteStatements()
