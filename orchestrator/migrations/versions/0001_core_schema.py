"""core schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 05:09:45.334796
"""
from alembic import op
import sqlalchemy as sa
import orchestrator.db.types
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('providers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_providers')),
    sa.UniqueConstraint('name', name=op.f('uq_providers_name'))
    )
    op.create_index('ix_providers_type', 'providers', ['type'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('is_admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('agents',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('start', sa.Text(), nullable=False),
    sa.Column('goal', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'archived')", name=op.f('ck_agents_status')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_agents_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents'))
    )
    op.create_index('ix_agents_created_at', 'agents', ['created_at'], unique=False)
    op.create_index('ix_agents_status', 'agents', ['status'], unique=False)
    op.create_table('api_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_keys_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_keys_prefix'))
    )
    op.create_index('ix_api_keys_user_id', 'api_keys', ['user_id'], unique=False)
    op.create_table('credentials',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('provider_id', sa.Uuid(), nullable=False),
    sa.Column('alias', sa.String(length=100), nullable=True),
    sa.Column('api_key_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('api_key_iv', sa.LargeBinary(), nullable=False),
    sa.Column('secret_key_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('secret_key_iv', sa.LargeBinary(), nullable=True),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('expires_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('quota_limit', sa.Integer(), nullable=True),
    sa.Column('quota_used', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_credentials_provider_id_providers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credentials')),
    sa.UniqueConstraint('provider_id', 'alias', name=op.f('uq_credentials_provider_id_alias'))
    )
    op.create_index('ix_credentials_expires_at', 'credentials', ['expires_at'], unique=False)
    op.create_table('squads',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('creator_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('price_per_execution', sa.Numeric(precision=10, scale=6), nullable=True),
    sa.Column('published_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'active', 'inactive')", name=op.f('ck_squads_status')),
    sa.ForeignKeyConstraint(['creator_id'], ['users.id'], name=op.f('fk_squads_creator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_squads'))
    )
    op.create_index('ix_squads_creator_id', 'squads', ['creator_id'], unique=False)
    op.create_index('ix_squads_status', 'squads', ['status'], unique=False)
    op.create_table('workflow_templates',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('is_builtin', sa.Boolean(), nullable=False),
    sa.Column('creator_id', sa.Uuid(), nullable=True),
    sa.Column('usage_count', sa.Integer(), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['users.id'], name=op.f('fk_workflow_templates_creator_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_templates'))
    )
    op.create_index('ix_workflow_templates_category', 'workflow_templates', ['category'], unique=False)
    op.create_table('squad_members',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('squad_id', sa.Uuid(), nullable=False),
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=50), nullable=False),
    sa.Column('added_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_squad_members_agent_id_agents')),
    sa.ForeignKeyConstraint(['squad_id'], ['squads.id'], name=op.f('fk_squad_members_squad_id_squads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_squad_members')),
    sa.UniqueConstraint('squad_id', 'agent_id', name=op.f('uq_squad_members_squad_id_agent_id'))
    )
    op.create_index('ix_squad_members_agent_id', 'squad_members', ['agent_id'], unique=False)
    op.create_table('workflows',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('squad_id', sa.Uuid(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('source_id', sa.String(length=255), nullable=True),
    sa.Column('latest_version', sa.Integer(), nullable=False),
    sa.Column('published_version', sa.Integer(), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('native', 'coze', 'imported')", name=op.f('ck_workflows_source')),
    sa.CheckConstraint("status IN ('draft', 'published', 'archived')", name=op.f('ck_workflows_status')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_workflows_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['squad_id'], ['squads.id'], name=op.f('fk_workflows_squad_id_squads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflows'))
    )
    op.create_index('ix_workflows_owner_id_created_at', 'workflows', ['owner_id', 'created_at'], unique=False)
    op.create_index('ix_workflows_squad_id', 'workflows', ['squad_id'], unique=False)
    op.create_index('ix_workflows_status', 'workflows', ['status'], unique=False)
    op.create_table('scheduled_workflows',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('workflow_id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('cron_expression', sa.Text(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('input', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('start_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('misfire_policy', sa.String(length=20), nullable=False),
    sa.Column('max_retries', sa.Integer(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('next_run_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_execution_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_execution_status', sa.String(length=20), nullable=True),
    sa.Column('last_error_message', sa.Text(), nullable=True),
    sa.Column('paused_reason', sa.Text(), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("misfire_policy IN ('skip', 'run_once')", name=op.f('ck_scheduled_workflows_misfire_policy')),
    sa.CheckConstraint("status IN ('active', 'paused')", name=op.f('ck_scheduled_workflows_status')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_scheduled_workflows_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'], name=op.f('fk_scheduled_workflows_workflow_id_workflows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_workflows'))
    )
    op.create_index('ix_scheduled_workflows_status_next_run_at', 'scheduled_workflows', ['status', 'next_run_at'], unique=False)
    op.create_index('ix_scheduled_workflows_status_workflow_id', 'scheduled_workflows', ['status', 'workflow_id'], unique=False)
    op.create_table('workflow_versions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('workflow_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('definition_iv', sa.LargeBinary(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=255), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'], name=op.f('fk_workflow_versions_workflow_id_workflows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_versions')),
    sa.UniqueConstraint('workflow_id', 'version', name=op.f('uq_workflow_versions_workflow_id_version'))
    )
    op.create_table('edges',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('workflow_version_id', sa.Uuid(), nullable=False),
    sa.Column('source_node_id', sa.String(length=100), nullable=False),
    sa.Column('target_node_id', sa.String(length=100), nullable=False),
    sa.Column('condition', sa.Text(), nullable=True),
    sa.Column('on_outcome', sa.String(length=20), nullable=False),
    sa.CheckConstraint("on_outcome IN ('success', 'error')", name=op.f('ck_edges_on_outcome')),
    sa.ForeignKeyConstraint(['workflow_version_id'], ['workflow_versions.id'], name=op.f('fk_edges_workflow_version_id_workflow_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_edges'))
    )
    op.create_index('ix_edges_workflow_version_id', 'edges', ['workflow_version_id'], unique=False)
    op.create_table('executions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('workflow_id', sa.Uuid(), nullable=False),
    sa.Column('workflow_version_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('schedule_id', sa.Uuid(), nullable=True),
    sa.Column('parent_execution_id', sa.Uuid(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=True),
    sa.Column('input', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('output', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_traceback', sa.Text(), nullable=True),
    sa.Column('metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('event_seq', sa.Integer(), nullable=False),
    sa.Column('step_count', sa.Integer(), nullable=False),
    sa.Column('deadline_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'running', 'paused', 'completed', 'failed', 'cancelled', 'timed_out')", name=op.f('ck_executions_status')),
    sa.CheckConstraint("trigger IN ('api', 'schedule', 'cli', 'retry')", name=op.f('ck_executions_trigger')),
    sa.CheckConstraint('duration_ms >= 0', name=op.f('ck_executions_duration_ms')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_executions_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_execution_id'], ['executions.id'], name=op.f('fk_executions_parent_execution_id_executions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['schedule_id'], ['scheduled_workflows.id'], name=op.f('fk_executions_schedule_id_scheduled_workflows'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'], name=op.f('fk_executions_workflow_id_workflows')),
    sa.ForeignKeyConstraint(['workflow_version_id'], ['workflow_versions.id'], name=op.f('fk_executions_workflow_version_id_workflow_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_executions')),
    sa.UniqueConstraint('owner_id', 'idempotency_key', name=op.f('uq_executions_owner_id_idempotency_key'))
    )
    op.create_index('ix_executions_owner_id_created_at', 'executions', ['owner_id', 'created_at'], unique=False)
    op.create_index('ix_executions_schedule_id', 'executions', ['schedule_id'], unique=False)
    op.create_index('ix_executions_status', 'executions', ['status'], unique=False)
    op.create_index('ix_executions_workflow_id_created_at', 'executions', ['workflow_id', 'created_at'], unique=False)
    op.create_table('nodes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('workflow_version_id', sa.Uuid(), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('position_x', sa.Float(), nullable=True),
    sa.Column('position_y', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['workflow_version_id'], ['workflow_versions.id'], name=op.f('fk_nodes_workflow_version_id_workflow_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nodes')),
    sa.UniqueConstraint('workflow_version_id', 'node_id', name=op.f('uq_nodes_workflow_version_id_node_id'))
    )
    op.create_table('a2a_messages',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=False),
    sa.Column('from_node', sa.String(length=100), nullable=False),
    sa.Column('to_node', sa.String(length=100), nullable=False),
    sa.Column('message_type', sa.String(length=50), nullable=False),
    sa.Column('content', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_a2a_messages_execution_id_executions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_a2a_messages'))
    )
    op.create_index('ix_a2a_messages_execution_id', 'a2a_messages', ['execution_id'], unique=False)
    op.create_table('execution_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=50), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_execution_events_execution_id_executions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_execution_events')),
    sa.UniqueConstraint('execution_id', 'seq', name=op.f('uq_execution_events_execution_id_seq'))
    )
    op.create_index('ix_execution_events_event_type', 'execution_events', ['event_type'], unique=False)
    op.create_index('ix_execution_events_created_at', 'execution_events', ['created_at'], unique=False)
    op.create_table('execution_steps',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('node_type', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('input', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('output', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_traceback', sa.Text(), nullable=True),
    sa.Column('not_before', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_expires_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dispatched_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('celery_task_id', sa.String(length=64), nullable=True),
    sa.Column('worker', sa.String(length=255), nullable=True),
    sa.Column('queued_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'queued', 'running', 'waiting', 'completed', 'failed', 'skipped', 'cancelled')", name=op.f('ck_execution_steps_status')),
    sa.CheckConstraint('attempt >= 1', name=op.f('ck_execution_steps_attempt')),
    sa.CheckConstraint('duration_ms >= 0', name=op.f('ck_execution_steps_duration_ms')),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_execution_steps_execution_id_executions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_execution_steps')),
    sa.UniqueConstraint('execution_id', 'node_id', name=op.f('uq_execution_steps_execution_id_node_id'))
    )
    op.create_index('ix_execution_steps_status_lease_expires_at', 'execution_steps', ['status', 'lease_expires_at'], unique=False)
    op.create_index('ix_execution_steps_status_dispatched_at', 'execution_steps', ['status', 'dispatched_at'], unique=False)
    op.create_index('ix_execution_steps_status_not_before', 'execution_steps', ['status', 'not_before'], unique=False)
    op.create_table('schedule_fires',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('schedule_id', sa.Uuid(), nullable=False),
    sa.Column('slot_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=True),
    sa.Column('fired_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_schedule_fires_execution_id_executions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['schedule_id'], ['scheduled_workflows.id'], name=op.f('fk_schedule_fires_schedule_id_scheduled_workflows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_fires')),
    sa.UniqueConstraint('schedule_id', 'slot_at', name=op.f('uq_schedule_fires_schedule_id_slot_at'))
    )
    op.create_table('shared_contexts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=False),
    sa.Column('namespace', sa.String(length=100), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_shared_contexts_execution_id_executions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shared_contexts')),
    sa.UniqueConstraint('execution_id', 'namespace', name=op.f('uq_shared_contexts_execution_id_namespace'))
    )
    op.create_table('structured_outputs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=False),
    sa.Column('output_schema', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('structured_data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('schema_valid', sa.Boolean(), nullable=False),
    sa.Column('validation_errors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_structured_outputs_execution_id_executions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_structured_outputs')),
    sa.UniqueConstraint('execution_id', name=op.f('uq_structured_outputs_execution_id'))
    )
    op.create_table('human_approvals',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=False),
    sa.Column('step_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('approver_email', sa.String(length=255), nullable=True),
    sa.Column('decision_data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('expires_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'expired')", name=op.f('ck_human_approvals_status')),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_human_approvals_execution_id_executions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['execution_steps.id'], name=op.f('fk_human_approvals_step_id_execution_steps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_human_approvals')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_human_approvals_token_hash'))
    )
    op.create_index('ix_human_approvals_execution_id', 'human_approvals', ['execution_id'], unique=False)
    op.create_index('ix_human_approvals_status_expires_at', 'human_approvals', ['status', 'expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_human_approvals_status_expires_at', table_name='human_approvals')
    op.drop_index('ix_human_approvals_execution_id', table_name='human_approvals')
    op.drop_table('human_approvals')
    op.drop_table('structured_outputs')
    op.drop_table('shared_contexts')
    op.drop_table('schedule_fires')
    op.drop_index('ix_execution_steps_status_not_before', table_name='execution_steps')
    op.drop_index('ix_execution_steps_status_lease_expires_at', table_name='execution_steps')
    op.drop_index('ix_execution_steps_status_dispatched_at', table_name='execution_steps')
    op.drop_table('execution_steps')
    op.drop_index('ix_execution_events_event_type', table_name='execution_events')
    op.drop_index('ix_execution_events_created_at', table_name='execution_events')
    op.drop_table('execution_events')
    op.drop_index('ix_a2a_messages_execution_id', table_name='a2a_messages')
    op.drop_table('a2a_messages')
    op.drop_table('nodes')
    op.drop_index('ix_executions_workflow_id_created_at', table_name='executions')
    op.drop_index('ix_executions_status', table_name='executions')
    op.drop_index('ix_executions_schedule_id', table_name='executions')
    op.drop_index('ix_executions_owner_id_created_at', table_name='executions')
    op.drop_table('executions')
    op.drop_index('ix_edges_workflow_version_id', table_name='edges')
    op.drop_table('edges')
    op.drop_table('workflow_versions')
    op.drop_index('ix_scheduled_workflows_status_workflow_id', table_name='scheduled_workflows')
    op.drop_index('ix_scheduled_workflows_status_next_run_at', table_name='scheduled_workflows')
    op.drop_table('scheduled_workflows')
    op.drop_index('ix_workflows_status', table_name='workflows')
    op.drop_index('ix_workflows_squad_id', table_name='workflows')
    op.drop_index('ix_workflows_owner_id_created_at', table_name='workflows')
    op.drop_table('workflows')
    op.drop_index('ix_squad_members_agent_id', table_name='squad_members')
    op.drop_table('squad_members')
    op.drop_index('ix_workflow_templates_category', table_name='workflow_templates')
    op.drop_table('workflow_templates')
    op.drop_index('ix_squads_status', table_name='squads')
    op.drop_index('ix_squads_creator_id', table_name='squads')
    op.drop_table('squads')
    op.drop_index('ix_credentials_expires_at', table_name='credentials')
    op.drop_table('credentials')
    op.drop_index('ix_api_keys_user_id', table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_index('ix_agents_status', table_name='agents')
    op.drop_index('ix_agents_created_at', table_name='agents')
    op.drop_table('agents')
    op.drop_table('users')
    op.drop_index('ix_providers_type', table_name='providers')
    op.drop_table('providers')
