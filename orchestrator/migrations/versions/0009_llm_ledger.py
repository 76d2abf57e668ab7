"""the ledger of model requests: each request's row, reserved before it is sent and settled in
its turn's commit, instead of every turn adding to the owner's shared rows (usage_counters'
llm_cost of the day, usage_metrics) under its execution's lock; usage_metrics now holds the
days rolled up from the ledger

Revision ID: 0009
Revises: 0008_lighter_step_writes
Create Date: 2026-12-08
"""
import uuid
from datetime import date, datetime, time, timezone
from decimal import Decimal

from alembic import op
import sqlalchemy as sa
import orchestrator.db.types

revision = '0009_llm_ledger'
down_revision = '0008_lighter_step_writes'
branch_labels = None
depends_on = None

OPEN = "settled_at IS NULL"
PRICE = sa.Numeric(precision=18, scale=8)


def upgrade() -> None:
    op.create_table('llm_ledger',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('workflow_id', sa.Uuid(), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=100), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('reserved', PRICE, nullable=True),
    sa.Column('settled_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('prompt_tokens', sa.BigInteger(), nullable=False),
    sa.Column('completion_tokens', sa.BigInteger(), nullable=False),
    sa.Column('cost', PRICE, nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_llm_ledger_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'], name=op.f('fk_llm_ledger_workflow_id_workflows'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_llm_ledger'))
    )
    with op.batch_alter_table('llm_ledger', schema=None) as batch_op:
        batch_op.create_index('ix_llm_ledger_owner_id_day', ['owner_id', 'day'], unique=False)
        batch_op.create_index('ix_llm_ledger_open', ['owner_id'], unique=False,
                              postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
    # The day's LLM cost is summed from usage_metrics and the ledger now.
    op.execute("DELETE FROM usage_counters WHERE metric = 'llm_cost'")
    with op.batch_alter_table('usage_counters', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_usage_counters_metric'), type_='check')
        batch_op.create_check_constraint(op.f('ck_usage_counters_metric'), "metric IN ('executions')")


def downgrade() -> None:
    with op.batch_alter_table('usage_counters', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_usage_counters_metric'), type_='check')
        batch_op.create_check_constraint(op.f('ck_usage_counters_metric'), "metric IN ('executions', 'llm_cost')")
    bind = op.get_bind()
    _roll_up_everything(bind)
    # What each owner spent per day, as the llm_cost counters held it.
    spent = bind.execute(sa.select(METRICS.c.owner_id, METRICS.c.day, sa.func.sum(METRICS.c.cost))
                         .where(METRICS.c.cost.is_not(None)).group_by(METRICS.c.owner_id, METRICS.c.day)).all()
    if spent:
        bind.execute(COUNTERS.insert(), [
            {"id": uuid.uuid4(), "user_id": owner_id, "metric": "llm_cost", "value": value,
             "period_start": datetime.combine(date.fromisoformat(str(day)), time(), tzinfo=timezone.utc)}
            for owner_id, day, value in spent])
    with op.batch_alter_table('llm_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_llm_ledger_open', postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.drop_index('ix_llm_ledger_owner_id_day')
    op.drop_table('llm_ledger')


KEY = ("owner_id", "day", "workflow_id", "provider", "model")
LEDGER = sa.table('llm_ledger', *(sa.column(c, sa.Uuid() if c.endswith("_id") else sa.String()) for c in KEY),
                  sa.column('settled_at', orchestrator.db.types.UTCDateTime()), sa.column('prompt_tokens', sa.BigInteger()),
                  sa.column('completion_tokens', sa.BigInteger()), sa.column('cost', PRICE))
METRICS = sa.table('usage_metrics', sa.column('id', sa.Uuid()),
                   *(sa.column(c, sa.Uuid() if c.endswith("_id") else sa.Date() if c == "day" else sa.String())
                     for c in KEY),
                   sa.column('requests', sa.Integer()), sa.column('prompt_tokens', sa.BigInteger()),
                   sa.column('completion_tokens', sa.BigInteger()), sa.column('cost', PRICE),
                   sa.column('updated_at', orchestrator.db.types.UTCDateTime()))
COUNTERS = sa.table('usage_counters', sa.column('id', sa.Uuid()), sa.column('user_id', sa.Uuid()),
                    sa.column('metric', sa.String()), sa.column('value', sa.Numeric(18, 6)),
                    sa.column('period_start', orchestrator.db.types.UTCDateTime()))


def _roll_up_everything(bind) -> None:
    """The ledger's settled requests added to usage_metrics, which 0008 keeps live."""
    keys = [LEDGER.c[k] for k in KEY]
    rows = bind.execute(sa.select(*keys, sa.func.count(), sa.func.sum(LEDGER.c.prompt_tokens),
                                  sa.func.sum(LEDGER.c.completion_tokens), sa.func.sum(LEDGER.c.cost))
                        .where(LEDGER.c.settled_at.is_not(None)).group_by(*keys)).all()
    now = datetime.now(timezone.utc)
    for *key, requests, prompt, completion, cost in rows:
        values = {k: (date.fromisoformat(str(v)) if k == "day" else v) for k, v in zip(KEY, key, strict=True)}
        current = bind.execute(sa.select(METRICS.c.id, METRICS.c.cost).where(
            *(METRICS.c[k] == v for k, v in values.items()))).first()
        if current is None:
            bind.execute(METRICS.insert().values(
                id=uuid.uuid4(), **values, requests=requests, prompt_tokens=prompt, completion_tokens=completion, cost=cost, updated_at=now))
            continue
        total = current.cost if cost is None else (current.cost or Decimal(0)) + Decimal(str(cost))
        bind.execute(METRICS.update().where(METRICS.c.id == current.id).values(
            requests=METRICS.c.requests + requests, prompt_tokens=METRICS.c.prompt_tokens + prompt,
            completion_tokens=METRICS.c.completion_tokens + completion, cost=total, updated_at=now))
