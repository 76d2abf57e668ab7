"""Migrations go up, down and up again on both databases, and agree with the models."""
import os
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from orchestrator.db.migrate import alembic_config, upgrade_database
from orchestrator.db import (
    Base, Execution, ExecutionEvent, ExecutionLineage, ExecutionStep, LedgerEntry, UsageMetric,
)
from orchestrator.db.session import get_engine
from tests.conftest import make_settings, use_settings
from tests.integration.test_schema import make_workflow
from tests.support.workers import ROOT


def _downgrade_base():
    command.downgrade(alembic_config(), "base")


def _diff(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_up_down_up_and_models_agree(kind, request, tmp_path, monkeypatch):
    url = (request.getfixturevalue("servers").create_database() if kind == "postgresql"
           else f"sqlite:///{tmp_path / 'm.db'}")
    settings = use_settings(monkeypatch, make_settings(tmp_path, url))
    engine = get_engine(settings)

    upgrade_database()
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert _diff(engine) == []

    _downgrade_base()
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}

    upgrade_database()
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    assert _diff(engine) == []
    engine.dispose()


def test_a_model_change_shows_as_a_difference(migrated_settings):
    """The agreement check can fail: an extra column in the models is seen."""
    from sqlalchemy import Column, Integer

    table = Base.metadata.tables["users"]
    extra = Column("shoe_size", Integer)
    table.append_column(extra)
    try:
        diff = _diff(get_engine(migrated_settings))
    finally:
        table._columns.remove(extra)
    assert any(op[0] == "add_column" and op[3].name == "shoe_size" for op in diff)


def test_the_ledger_goes_down_into_usage_metrics_and_the_days_counters(migrated_settings, session):
    """0009 down: the ledger's settled requests are added to usage_metrics and each day's cost
    becomes an llm_cost counter again, as 0008 kept them; up again: the counters go."""
    owner, workflow, _ = make_workflow(session, migrated_settings)
    today = datetime.now(timezone.utc).date()
    session.add(UsageMetric(day=today, owner_id=owner.id, workflow_id=workflow.id, provider="acme", model="m1",
                            requests=1, prompt_tokens=5, completion_tokens=5, cost=Decimal("0.5")))
    for cost, settled in ((Decimal("0.25"), True), (Decimal("1"), True), (None, False)):
        session.add(LedgerEntry(id=uuid.uuid4(), owner_id=owner.id, day=today, workflow_id=workflow.id,
                                execution_id=uuid.uuid4(), node_id="ask", attempt=1, turn=0, provider="acme",
                                model="m1", reserved=Decimal(2), cost=cost, prompt_tokens=10, completion_tokens=1,
                                settled_at=datetime.now(timezone.utc) if settled else None))
    session.commit()
    engine = get_engine(migrated_settings)
    command.downgrade(alembic_config(), "0008_lighter_step_writes")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT requests, prompt_tokens, completion_tokens, cost FROM usage_metrics")).one() \
            == (3, 25, 7, Decimal("1.75"))
        metric, value = conn.execute(text("SELECT metric, value FROM usage_counters")).one()
        assert (metric, Decimal(str(value))) == ("llm_cost", Decimal("1.75"))
    upgrade_database()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM usage_counters")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM llm_ledger")).scalar() == 0


def test_the_alembic_command_of_a_checkout_runs_the_package_migrations(tmp_path):
    """The top-level alembic.ini and alembic/ (the design's layout) migrate with the versions
    that ship in the package."""
    heads = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini"))).get_heads()
    assert heads == ScriptDirectory.from_config(alembic_config()).get_heads()
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    done = subprocess.run([Path(sys.executable).parent / "alembic", "upgrade", "head"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "DATABASE_URL": url, "ORCHESTRATOR_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    engine = create_engine(url)
    with engine.connect() as conn:
        assert [MigrationContext.configure(conn).get_current_revision()] == heads
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_0016_changes_the_trigger_check_keeping_every_row_that_hangs_on_an_execution(migrated_settings, session):
    """SQLite changes a CHECK by copying the table: the copy of executions keeps the steps,
    events and lineage that cascade from it. Down again, what a webhook started stays, as
    started through the API."""
    owner, workflow, version = make_workflow(session, migrated_settings)
    execution = Execution(workflow_id=workflow.id, workflow_version_id=version.id, version=1, owner_id=owner.id,
                          trigger="webhook")
    session.add(execution)
    session.flush()
    session.add_all([ExecutionStep(execution_id=execution.id, node_id="a", node_type="noop"),
                     ExecutionEvent(execution_id=execution.id, seq=1, event_type="execution_pending"),
                     ExecutionLineage(execution_id=execution.id, kind="webhook", ref_id=uuid.uuid4())])
    session.commit()
    engine = get_engine(migrated_settings)

    def rows():
        with engine.connect() as conn:
            return [conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
                    for table in ("executions", "execution_steps", "execution_events", "execution_lineage")]
    command.downgrade(alembic_config(), "0012_seed_rows")
    assert rows() == [1, 1, 1, 0]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT trigger FROM executions")).scalar() == "api"
    upgrade_database()
    assert rows() == [1, 1, 1, 0]
