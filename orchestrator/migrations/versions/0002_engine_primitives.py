"""engine primitives: turns, checkpoints, calls, children

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 22:47:13.993390
"""
from alembic import op
import sqlalchemy as sa
import orchestrator.db.types
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

TRIGGERS = "trigger IN ({})"


def upgrade() -> None:
    op.create_table('step_calls',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=False),
    sa.Column('step_id', sa.Uuid(), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('target', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('request', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('response', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('usage', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('cost', sa.Numeric(precision=18, scale=8), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('llm', 'tool')", name=op.f('ck_step_calls_kind')),
    sa.CheckConstraint("status IN ('ok', 'error')", name=op.f('ck_step_calls_status')),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_step_calls_execution_id_executions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['execution_steps.id'], name=op.f('fk_step_calls_step_id_execution_steps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_calls')),
    sa.UniqueConstraint('step_id', 'attempt', 'turn', 'seq', name=op.f('uq_step_calls_step_id_attempt_turn_seq'))
    )
    with op.batch_alter_table('step_calls', schema=None) as batch_op:
        batch_op.create_index('ix_step_calls_execution_id_created_at', ['execution_id', 'created_at'], unique=False)

    op.create_table('step_checkpoints',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('step_id', sa.Uuid(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('turn', sa.Integer(), nullable=False),
    sa.Column('state_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('state_iv', sa.LargeBinary(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['step_id'], ['execution_steps.id'], name=op.f('fk_step_checkpoints_step_id_execution_steps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_checkpoints')),
    sa.UniqueConstraint('step_id', 'turn', name=op.f('uq_step_checkpoints_step_id_turn'))
    )
    with op.batch_alter_table('execution_steps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('turn', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_check_constraint('turn', 'turn >= 0')

    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_step_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('depth', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('total_tokens', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('total_cost', sa.Numeric(precision=18, scale=8), nullable=True))
        batch_op.create_index('ix_executions_parent_execution_id', ['parent_execution_id'], unique=False)
        batch_op.create_check_constraint('depth', 'depth >= 0')
        batch_op.drop_constraint(op.f('ck_executions_trigger'), type_='check')
        batch_op.create_check_constraint('trigger', TRIGGERS.format("'api', 'schedule', 'cli', 'retry', 'subworkflow'"))
    with op.batch_alter_table('human_approvals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                                                        'postgresql'), nullable=True))
    # The defaults were only for existing rows; the models set these columns.
    with op.batch_alter_table('execution_steps', schema=None) as batch_op:
        batch_op.alter_column('turn', server_default=None)
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.alter_column('depth', server_default=None)
        batch_op.alter_column('total_tokens', server_default=None)



def downgrade() -> None:
    op.execute("DELETE FROM executions WHERE trigger = 'subworkflow'")
    with op.batch_alter_table('human_approvals', schema=None) as batch_op:
        batch_op.drop_column('details')
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_executions_trigger'), type_='check')
        batch_op.create_check_constraint('trigger', TRIGGERS.format("'api', 'schedule', 'cli', 'retry'"))
        batch_op.drop_constraint(op.f('ck_executions_depth'), type_='check')
        batch_op.drop_index('ix_executions_parent_execution_id')
        batch_op.drop_column('total_cost')
        batch_op.drop_column('total_tokens')
        batch_op.drop_column('depth')
        batch_op.drop_column('parent_step_id')

    with op.batch_alter_table('execution_steps', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_execution_steps_turn'), type_='check')
        batch_op.drop_column('turn')

    op.drop_table('step_checkpoints')
    with op.batch_alter_table('step_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_step_calls_execution_id_created_at')

    op.drop_table('step_calls')
