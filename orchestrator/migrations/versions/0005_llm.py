"""llm layer: endpoints, models, usage, node history; providers per owner, credential
cooldowns and daily quota, structured outputs per node

Revision ID: 0005_llm
Revises: 0003_secrets
Create Date: 2026-11-28 22:49:55.313982
"""
from alembic import op
import sqlalchemy as sa
import orchestrator.db.types
from sqlalchemy.dialects import postgresql

revision = '0005_llm'
down_revision = '0003_secrets'
branch_labels = None
depends_on = None

PROVIDER_TYPES = "type IN ('openai', 'anthropic', 'azure', 'aliyun', 'baidu', 'local', 'bedrock')"


def _keep_first_per(table: str, *columns: str) -> None:
    """Delete all but the oldest row of each group of ``columns`` (before a narrower unique)."""
    same = " AND ".join(f"o.{c} = {table}.{c}" for c in columns)
    op.execute(f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {table} o WHERE {same} AND "
               f"(o.created_at < {table}.created_at OR (o.created_at = {table}.created_at AND o.id < {table}.id)))")


def upgrade() -> None:
    op.create_table('endpoints',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('provider_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('base_url', sa.String(length=2048), nullable=False),
    sa.Column('api_version', sa.String(length=50), nullable=True),
    sa.Column('region', sa.String(length=50), nullable=True),
    sa.Column('timeout_connect', sa.Float(), nullable=False),
    sa.Column('timeout_read', sa.Float(), nullable=False),
    sa.Column('retry_count', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_endpoints_provider_id_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_endpoints')),
    sa.UniqueConstraint('provider_id', 'name', name=op.f('uq_endpoints_provider_id_name'))
    )
    op.create_table('models',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('provider_id', sa.Uuid(), nullable=False),
    sa.Column('model_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('version', sa.String(length=50), nullable=True),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('context_window', sa.Integer(), nullable=True),
    sa.Column('max_output_tokens', sa.Integer(), nullable=True),
    sa.Column('input_price', sa.Numeric(precision=18, scale=8), nullable=True),
    sa.Column('output_price', sa.Numeric(precision=18, scale=8), nullable=True),
    sa.Column('capabilities', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('available', 'deprecated', 'unavailable')", name=op.f('ck_models_status')),
    sa.CheckConstraint("type IN ('chat')", name=op.f('ck_models_type')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_models_provider_id_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_models')),
    sa.UniqueConstraint('provider_id', 'model_id', name=op.f('uq_models_provider_id_model_id'))
    )
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.create_index('ix_models_status', ['status'], unique=False)

    op.create_table('usage_metrics',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('workflow_id', sa.Uuid(), nullable=False),
    sa.Column('provider', sa.String(length=100), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('prompt_tokens', sa.BigInteger(), nullable=False),
    sa.Column('completion_tokens', sa.BigInteger(), nullable=False),
    sa.Column('cost', sa.Numeric(precision=18, scale=8), nullable=True),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_usage_metrics_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'], name=op.f('fk_usage_metrics_workflow_id_workflows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_metrics')),
    sa.UniqueConstraint('owner_id', 'day', 'workflow_id', 'provider', 'model', name=op.f('uq_usage_metrics_owner_id_day_workflow_id_provider_model'))
    )
    with op.batch_alter_table('usage_metrics', schema=None) as batch_op:
        batch_op.create_index('ix_usage_metrics_day', ['day'], unique=False)

    op.create_table('workflow_node_history',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('workflow_id', sa.Uuid(), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('memory_key', sa.String(length=255), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=False),
    sa.Column('pair_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('pair_iv', sa.LargeBinary(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_workflow_node_history_execution_id_executions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'], name=op.f('fk_workflow_node_history_workflow_id_workflows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_node_history'))
    )
    with op.batch_alter_table('workflow_node_history', schema=None) as batch_op:
        batch_op.create_index('ix_workflow_node_history_execution_id', ['execution_id'], unique=False)
        batch_op.create_index('ix_workflow_node_history_lookup', ['workflow_id', 'node_id', 'memory_key', 'created_at'], unique=False)

    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quota_day', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('key_hint', sa.String(length=8), nullable=False))
        batch_op.add_column(sa.Column('cooldown_until', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Uuid(), nullable=False))
        batch_op.drop_constraint(batch_op.f('uq_providers_name'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_providers_owner_id_name'), ['owner_id', 'name'])
        batch_op.create_foreign_key(batch_op.f('fk_providers_owner_id_users'), 'users', ['owner_id'], ['id'], ondelete='CASCADE')
        batch_op.create_check_constraint('type', PROVIDER_TYPES)

    with op.batch_alter_table('structured_outputs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('node_id', sa.String(length=100), nullable=False))
        batch_op.drop_constraint(batch_op.f('uq_structured_outputs_execution_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_structured_outputs_execution_id_node_id'), ['execution_id', 'node_id'])



def downgrade() -> None:
    _keep_first_per('structured_outputs', 'execution_id')
    _keep_first_per('providers', 'name')
    with op.batch_alter_table('structured_outputs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_structured_outputs_execution_id_node_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_structured_outputs_execution_id'), ['execution_id'])
        batch_op.drop_column('node_id')

    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_providers_type'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_providers_owner_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_providers_owner_id_name'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_providers_name'), ['name'])
        batch_op.drop_column('owner_id')

    with op.batch_alter_table('credentials', schema=None) as batch_op:
        batch_op.drop_column('cooldown_until')
        batch_op.drop_column('key_hint')
        batch_op.drop_column('quota_day')

    with op.batch_alter_table('workflow_node_history', schema=None) as batch_op:
        batch_op.drop_index('ix_workflow_node_history_lookup')
        batch_op.drop_index('ix_workflow_node_history_execution_id')

    op.drop_table('workflow_node_history')
    with op.batch_alter_table('usage_metrics', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_metrics_day')

    op.drop_table('usage_metrics')
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.drop_index('ix_models_status')

    op.drop_table('models')
    op.drop_table('endpoints')
