"""fewer index writes per step: partial indexes on the steps the sweeper looks for (queued or
waiting by not_before, running by lease) instead of three on every step; no index on event
types (nothing reads by it); executions pages keep room for in-place (HOT) updates

Revision ID: 0008_lighter_step_writes
Revises: 0007_agents
Create Date: 2026-11-29 02:05:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0008_lighter_step_writes'
down_revision = '0007_agents'
branch_labels = None
depends_on = None

DUE = "status IN ('queued', 'waiting')"
LEASED = "status = 'running'"


def upgrade() -> None:
    with op.batch_alter_table('execution_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_execution_steps_status_not_before')
        batch_op.drop_index('ix_execution_steps_status_lease_expires_at')
        batch_op.drop_index('ix_execution_steps_status_dispatched_at')
        batch_op.create_index('ix_execution_steps_due', ['not_before'], unique=False,
                              postgresql_where=sa.text(DUE), sqlite_where=sa.text(DUE))
        batch_op.create_index('ix_execution_steps_lease', ['lease_expires_at'], unique=False,
                              postgresql_where=sa.text(LEASED), sqlite_where=sa.text(LEASED))
    with op.batch_alter_table('execution_events', schema=None) as batch_op:
        batch_op.drop_index('ix_execution_events_event_type')
    if op.get_bind().dialect.name == 'postgresql':
        # Every step updates its execution's row twice (claim and record); with free room on
        # the page those updates stay in place instead of adding an entry to every index.
        op.execute("ALTER TABLE executions SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE executions RESET (fillfactor)")
    with op.batch_alter_table('execution_events', schema=None) as batch_op:
        batch_op.create_index('ix_execution_events_event_type', ['event_type'], unique=False)
    with op.batch_alter_table('execution_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_execution_steps_lease')
        batch_op.drop_index('ix_execution_steps_due')
        batch_op.create_index('ix_execution_steps_status_dispatched_at', ['status', 'dispatched_at'], unique=False)
        batch_op.create_index('ix_execution_steps_status_lease_expires_at', ['status', 'lease_expires_at'],
                              unique=False)
        batch_op.create_index('ix_execution_steps_status_not_before', ['status', 'not_before'], unique=False)
